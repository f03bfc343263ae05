/**
 * What `npm run tasks -- list` prints is whatever a task's creator sent (task ids, URLs, audiences, headers, bodies):
 * every cell is terminal-safe, and a body keeps its own lines.
 */
import { taskTable } from '../../../lib/apps/tasks/cli';
import { formatTimeline } from '../../../lib/apps/local/summary';
import { formatEvent } from '../../../lib/emulator/dispatch/events';

const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

test('GIVEN a task with ESC, CR, C1 and bidi characters in its fields THEN the listing shows them escaped', () => {
  const out = taskTable(
    [
      {
        name: 'projects/p/locations/l/queues/q/tasks/t1',
        httpRequest: {
          url: 'https://x.example/\u202egnp.exe',
          httpMethod: 'POST',
          oidcToken: { serviceAccountEmail: 'a@p.iam.gserviceaccount.com', audience: 'aud\u001b]0;title\u0007' },
          headers: { 'X-Note': 'ok\u009b31m', 'X-Auth\u2066': 'v' },
          body: Buffer.from('line one\u001b[2J\nline two\r\u0000'),
        },
      },
    ],
    true,
  );
  expect(out).not.toMatch(CONTROL);
  expect(out).toContain('https://x.example/\\u202egnp.exe');
  expect(out).toContain('aud=aud\\x1b]0;title\\x07');
  expect(out).toContain('X-Note: ok\\x9b31m');
  expect(out).toContain('X-Auth\\u2066: v');
  // The body's own lines stay lines, each indented under its task.
  expect(out).toContain('      line one\\x1b[2J\n      line two\\x0d\\x00\n');
});

test('GIVEN a run id from a task body with control characters THEN the local timeline and the event log show them escaped', () => {
  const timeline = formatTimeline({
    'run\u001b[31m\u202e': [{ step: 'train', tasks: 1, startSeconds: 0, endSeconds: 1 }],
  });
  expect(timeline).not.toMatch(CONTROL);
  expect(timeline).toContain('run\\x1b[31m\\u202e');
  const line = formatEvent({
    ts: '2026-01-01T00:00:00.000Z',
    event: 'failed',
    queue: 'projects/p/locations/l/queues/q',
    task: 't',
    reason: 'worker said \u001b[2Jboom\r\nforged',
  } as Parameters<typeof formatEvent>[0]);
  expect(line).not.toMatch(CONTROL);
  expect(line).toContain('(worker said \\x1b[2Jboom\\x0d\\x0aforged)');
});
