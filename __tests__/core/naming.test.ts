/** Names the seeder writes and the worker SDK reads back agree: one format, one parser beside it. */
import { cloudRunServiceUrl, oidcAudienceFor, queueNameFor, seedIdFromTaskId, taskIdFor } from '../../lib/core/naming';
import { isLoopbackHost } from '../../lib/core/loopback';

test('the seed id comes back out of the task id taskIdFor made', () => {
  const queue = queueNameFor('acme-ml-dev', 'us-central1', 'recsys-dev-train');
  for (const seedId of ['nightly-1', 'a', 'with-16-hexes-0123456789abcdef'])
    expect(seedIdFromTaskId(taskIdFor(queue, seedId))).toBe(seedId);
  // Ids some other client chose are not taskIdFor's.
  expect(seedIdFromTaskId('0123456789abcdef')).toBeUndefined();
  expect(seedIdFromTaskId('my-own-task-name')).toBeUndefined();
});

test('loopback hosts: localhost, ::1 (bracketed or not) and 127.0.0.0/8, nothing else', () => {
  for (const h of ['localhost', 'LOCALHOST', '127.0.0.1', '127.1.2.3', '::1', '[::1]'])
    expect(isLoopbackHost(h)).toBe(true);
  for (const h of ['0.0.0.0', '10.0.0.1', 'example.com', '127.0.0.1.example.com', '::'])
    expect(isLoopbackHost(h)).toBe(false);
});

describe('oidcAudienceFor', () => {
  test('GIVEN a Cloud Run (*.run.app) URL THEN the default audience is the service URL: scheme and host only', () => {
    expect(oidcAudienceFor({ url: 'https://train-abc123-uc.a.run.app/tasks' })).toBe(
      'https://train-abc123-uc.a.run.app',
    );
    expect(oidcAudienceFor({ url: 'https://train-123456789.us-central1.run.app/a/b?x=1#f' })).toBe(
      'https://train-123456789.us-central1.run.app',
    );
    expect(oidcAudienceFor({ url: 'https://W.a.run.app:443/tasks' })).toBe('https://w.a.run.app');
  });

  test('GIVEN any other host THEN the URL without query and fragment, otherwise as written (no trailing slash added)', () => {
    expect(oidcAudienceFor({ url: 'https://worker.example.com/a/b?x=1#f' })).toBe('https://worker.example.com/a/b');
    expect(oidcAudienceFor({ url: 'https://worker.example.com?x=1' })).toBe('https://worker.example.com');
    // Not Cloud Run: a host that merely contains run.app.
    expect(oidcAudienceFor({ url: 'https://run.app.example.com/t' })).toBe('https://run.app.example.com/t');
  });

  test('GIVEN an audience THEN it is used as written', () => {
    expect(oidcAudienceFor({ url: 'https://w.a.run.app/a', audience: 'https://w.a.run.app/a' })).toBe(
      'https://w.a.run.app/a',
    );
    expect(oidcAudienceFor({ url: 'https://w.a.run.app/a', audience: 'custom' })).toBe('custom');
  });

  test('cloudRunServiceUrl recognizes https *.run.app hosts only', () => {
    expect(cloudRunServiceUrl('https://x.a.run.app/p')).toBe('https://x.a.run.app');
    expect(cloudRunServiceUrl('http://x.a.run.app/p')).toBeUndefined();
    expect(cloudRunServiceUrl('https://example.com/p')).toBeUndefined();
    expect(cloudRunServiceUrl('not a url')).toBeUndefined();
  });
});
