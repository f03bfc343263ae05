/** Names the seeder writes and the worker SDK reads back agree: one format, one parser beside it. */
import { queueNameFor, seedIdFromTaskId, taskIdFor } from '../../lib/core/naming';
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
