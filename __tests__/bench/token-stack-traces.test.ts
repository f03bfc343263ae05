/**
 * The performance fix in lib/cdktf/core.ts (withoutTokenStackTraces): cdktf's per-token stack traces are not
 * formatted inside the window, everything else about errors and the synthesized JSON stays as it was.
 */
import { Construct } from 'constructs';
import { TerraformStack, Testing, withoutTokenStackTraces } from '../../lib/cdktf/core';
import { CloudTasksQueue, CloudTasksQueueIamMember } from '../../lib/cdktf/google';

function buildStack(): TerraformStack {
  const app = Testing.app();
  const stack = new TerraformStack(app, 'bench');
  const scope = new Construct(stack, 'queue');
  const queue = new CloudTasksQueue(scope, 'Resource', {
    name: 'bench-q',
    location: 'us-central1',
    project: 'acme-bench',
  });
  new CloudTasksQueueIamMember(scope, 'Enqueuer', {
    location: 'us-central1',
    project: 'acme-bench',
    name: queue.name,
    role: 'roles/cloudtasks.enqueuer',
    member: 'serviceAccount:w@acme-bench.iam.gserviceaccount.com',
  });
  return stack;
}

describe('withoutTokenStackTraces', () => {
  test('GIVEN a trace captured the way cdktf captures a token creation stack THEN inside it is empty, outside it is not', () => {
    // lib/cdktf tokens/private/stack-trace.js: Error.captureStackTrace on a plain object, then `.stack` read at once.
    const capture = (): string => {
      const holder = { stack: '' };
      Error.captureStackTrace(holder);
      return holder.stack;
    };
    expect(withoutTokenStackTraces(capture)).toBe('');
    expect(capture()).toMatch(/\n\s+at /);
  });

  test('GIVEN the same stack built inside and outside THEN the synthesized Terraform JSON is identical', () => {
    const plain = Testing.synth(buildStack());
    const fast = withoutTokenStackTraces(() => Testing.synth(buildStack()));
    expect(fast).toEqual(plain);
    const resources = JSON.parse(fast).resource;
    const [binding] = Object.values(resources.google_cloud_tasks_queue_iam_member) as { name: string }[];
    // The reference token resolved as usual.
    expect(binding.name).toMatch(/^\$\{google_cloud_tasks_queue\.queue_[0-9A-F]+\.name\}$/);
  });

  test('GIVEN an Error thrown inside and read outside THEN its stack names the function that threw', () => {
    function failingConstructor(): never {
      throw new Error('boom');
    }
    let caught: Error | undefined;
    try {
      withoutTokenStackTraces(failingConstructor);
    } catch (e) {
      caught = e as Error;
    }
    expect(caught?.message).toBe('boom');
    expect(caught?.stack).toMatch(/^Error: boom\n\s+at failingConstructor/);
  });

  test('GIVEN fn throws THEN the previous Error.prepareStackTrace is restored', () => {
    const before = Error.prepareStackTrace;
    expect(() =>
      withoutTokenStackTraces(() => {
        throw new RangeError('bad');
      }),
    ).toThrow(RangeError);
    expect(Error.prepareStackTrace).toBe(before);
  });

  test('GIVEN an Error whose stack is read inside THEN it still carries its message and frames', () => {
    const stack = withoutTokenStackTraces(() => new TypeError('read inside').stack ?? '');
    expect(stack).toMatch(/TypeError: read inside\n\s+at /);
  });
});
