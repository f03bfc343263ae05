/**
 * `npm run runs`: the CLI against a live pipeline (the ledger harness: Google's Firestore emulator, the Cloud Tasks
 * emulator dispatching to an SDK worker). The CLI finds the ledger from a spec file, as a user's does: start a run,
 * list it, tell its story, re-drive a failed run, cancel a running one; and refuse what cannot work.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EMULATOR_HOST_ENV, FIRESTORE_EMULATOR_HOST_ENV } from '../../../lib/core/env';
import { PermanentError } from '../../../lib/ledger/errors';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, main } from '../../../lib/apps/runs/cli';
import type { RunSummary, RunView } from '../../../lib/ledger/index';
import type { StepContext } from '../../../lib/worker/delivery';
import { FIRESTORE_READY_MS, gate, startHarness, step, url, type Harness } from '../../ledger/helpers';

let h: Harness;
let dir: string;
let specFile: string;
/** train fails permanently for payloads that say so, until the "fix" is deployed. */
let trainFixed = false;
const hold = gate();
beforeAll(async () => {
  h = await startHarness({
    pipeline: 'runscli',
    steps: [step('ingest', ['train']), step('train')],
    handlers: {
      ingest: async (p: { hold?: boolean }, ctx: StepContext) => {
        if (p?.hold) await hold.promise;
        ctx.output('rows', `gs://acme-ml/${ctx.runId}/rows`);
        return p;
      },
      train: (p: { fail?: boolean }, ctx: StepContext) => {
        if (p?.fail && !trainFixed) throw new PermanentError('bad data:\u001b[31m column "label" is empty');
        ctx.output('model', `gs://acme-ml/${ctx.runId}/model/`);
        return { model: 'ok' };
      },
    },
  });
  dir = mkdtempSync(path.join(tmpdir(), 'runs-cli-'));
  // The spec whose routes are the harness's: same project, environment, steps, and its ledger database.
  specFile = path.join(dir, 'runscli.yaml');
  writeFileSync(
    specFile,
    [
      'project: acme-ml-dev',
      'region: us-central1',
      'environment: test',
      `ledger: { database: "(default)", project: ${h.routes.ledger.project} }`,
      'pipeline:',
      '  name: runscli',
      '  steps:',
      `    - { name: ingest, target: { url: "${url('ingest')}" }, dispatchDeadline: 60s, next: [train] }`,
      `    - { name: train, target: { url: "${url('train')}" }, dispatchDeadline: 60s }`,
      '',
    ].join('\n'),
  );
}, FIRESTORE_READY_MS);
afterAll(async () => {
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

const env = () => ({
  [FIRESTORE_EMULATOR_HOST_ENV]: process.env[FIRESTORE_EMULATOR_HOST_ENV],
  [EMULATOR_HOST_ENV]: h.emulator.address,
});
async function runs(args: string[], environment: NodeJS.ProcessEnv = env()) {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'runs', ...args], {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: environment,
  });
  return { code, stdout, stderr };
}

test('start a run by hand, then list and show it: status, steps, outputs, durations', async () => {
  const started = await runs([
    'start',
    '--spec',
    specFile,
    '--step',
    'ingest',
    '--payload',
    '{"n": 1}',
    '--run-id',
    'r-ok',
  ]);
  expect(started).toEqual({
    code: EXIT_OK,
    stdout: expect.stringMatching(
      /^Started run r-ok of runscli-test: task projects\/acme-ml-dev\/.*\/queues\/runscli-test-ingest\/tasks\/[0-9a-f]{32}\n$/,
    ),
    stderr: '',
  });
  await h.waitForRun('r-ok');
  // Starting it again starts nothing.
  const again = await runs(['start', '--spec', specFile, '--payload', '{"n": 1}', '--run-id', 'r-ok']);
  expect(again.stdout).toBe('Run r-ok of runscli-test exists already (succeeded): nothing new started\n');

  const listed = await runs(['list', '--spec', specFile]);
  expect(listed.code).toBe(EXIT_OK);
  expect(listed.stdout).toMatch(
    /^\d+ run\(s\) in runscli-test, newest first:\nSTACK +RUN +STATUS +STARTED +DURATION +SOURCE +FAILURE\n/,
  );
  expect(listed.stdout).toMatch(/^runscli-test +r-ok +succeeded +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ +[\d.]+s +manual$/m);
  const json = JSON.parse((await runs(['list', '--spec', specFile, '--status', 'succeeded', '--json'])).stdout);
  expect((json as RunSummary[]).map((r) => r.runId)).toContain('r-ok');

  const shown = await runs(['show', 'r-ok', '--spec', specFile]);
  expect(shown.code).toBe(EXIT_OK);
  const lines = shown.stdout.split('\n');
  expect(lines[0]).toBe('Run r-ok of runscli-test (pipeline runscli): SUCCEEDED');
  expect(lines).toContainEqual(expect.stringMatching(/^ {2}started +\S+Z by manual, at step ingest$/));
  expect(lines).toContainEqual(expect.stringMatching(/^ {2}finished +\S+Z, after [\d.]+s$/));
  expect(lines).toContainEqual('  input     {"n":1}');
  expect(lines).toContainEqual(expect.stringMatching(/^ingest +each +complete +1 +1 +0 +0 +1 +[\d.]+s$/));
  expect(lines).toContainEqual(expect.stringMatching(/^train +each +complete +1 +1 +0 +0 +1 +[\d.]+s$/));
  expect(lines).toContainEqual('  ingest 0  rows  gs://acme-ml/r-ok/rows');
  expect(lines).toContainEqual('  train 0.0  model  gs://acme-ml/r-ok/model/');
  const view = JSON.parse((await runs(['show', 'r-ok', '--spec', specFile, '--json'])).stdout) as RunView;
  expect(view).toMatchObject({ runId: 'r-ok', status: 'succeeded', steps: [{ step: 'ingest' }, { step: 'train' }] });
});

test('a failed run tells where and why, its reason printed terminal-safe; retry re-drives only the failed step', async () => {
  await runs(['start', '--spec', specFile, '--payload', '{"fail": true}', '--run-id', 'r-bad']);
  await h.waitForRun('r-bad');
  const shown = await runs(['show', 'r-bad', '--spec', specFile]);
  expect(shown.stdout).toContain('Run r-bad of runscli-test (pipeline runscli): FAILED');
  expect(shown.stdout).toContain(
    '  failure   at train shard 0.0 (permanent): bad data:\\x1b[31m column "label" is empty',
  );
  expect(shown.stdout).toMatch(
    /^ {2}train 0\.0: failed after 1 attempt\(s\), last attempt [\d.]+s; failed \(attempt 1\): bad data:\\x1b\[31m column "label" is empty$/m,
  );
  expect(shown.stdout).not.toContain('\u001b');
  const listed = await runs(['list', '--spec', specFile, '--status', 'failed']);
  expect(listed.stdout).toMatch(/^runscli-test +r-bad +failed .* train: permanent: bad data:\\x1b\[31m column/m);

  trainFixed = true;
  const retried = await runs(['retry', 'r-bad', '--spec', specFile, '--step', 'train']);
  expect(retried).toEqual({
    code: EXIT_OK,
    stdout:
      'Re-drove run r-bad (generation 1): 1 task(s) enqueued again (train 0.0); npm run runs -- show r-bad follows it\n',
    stderr: '',
  });
  const after = await h.waitForRun('r-bad', ['succeeded']);
  expect(after.steps.find((s) => s.step === 'train')).toMatchObject({ state: 'complete', succeeded: 1 });
  // ingest succeeded the first time: not redone.
  expect(h.callsOf('ingest', 'r-bad')).toHaveLength(1);
  const again = await runs(['retry', 'r-bad', '--spec', specFile]);
  expect(again).toEqual({
    code: EXIT_FAILED,
    stdout: '',
    stderr: 'run r-bad is succeeded; only a failed run can be re-driven\n',
  });
});

test('cancel a running run: it ends cancelled and nothing after it starts', async () => {
  await runs(['start', '--spec', specFile, '--payload', '{"hold": true}', '--run-id', 'r-stop']);
  await h.waitForRun('r-stop', ['running']);
  const cancelled = await runs(['cancel', 'r-stop', '--pipeline', 'runscli-test', '--spec', specFile]);
  expect(cancelled.code).toBe(EXIT_OK);
  expect(cancelled.stdout).toMatch(/^Cancelled run r-stop: \d+ waiting task\(s\) deleted; /);
  hold.open();
  const run = await h.waitForRun('r-stop');
  expect(run.status).toBe('cancelled');
  expect(h.callsOf('train', 'r-stop')).toEqual([]);
});

test('what cannot work is refused with the reason and the exit code', async () => {
  expect(await runs(['show', 'nope', '--spec', specFile])).toEqual({
    code: EXIT_FAILED,
    stdout: '',
    stderr: `run nope is not in the ledger of runscli-test (projects/${h.routes.ledger.project}/databases/(default))\n`,
  });
  expect(await runs(['list', '--spec', specFile, '--pipeline', 'other'])).toMatchObject({
    code: EXIT_USAGE,
    stderr: `--pipeline other: no spec (${specFile}) has that pipeline or stack name\n`,
  });
  expect(await runs(['start', '--spec', specFile, '--payload', '{bad'])).toMatchObject({
    code: EXIT_USAGE,
    stderr: expect.stringMatching(/^--payload is not JSON \(.*\); quote it for the shell: --payload '\{"n": 1\}'\n$/),
  });
  expect(await runs(['start', '--payload', '1'])).toMatchObject({ code: EXIT_USAGE });
  expect(
    await runs(['cancel', 'r-ok', '--spec', specFile], {
      [FIRESTORE_EMULATOR_HOST_ENV]: process.env[FIRESTORE_EMULATOR_HOST_ENV],
    }),
  ).toEqual({
    code: EXIT_USAGE,
    stdout: '',
    stderr:
      'FIRESTORE_EMULATOR_HOST is set but CLOUD_TASKS_EMULATOR_HOST is not: the run would be in the local Firestore emulator and its tasks in Cloud Tasks. Set both (local) or neither (Google Cloud)\n',
  });
  expect(await runs(['list', '--status', 'done', '--spec', specFile])).toMatchObject({ code: EXIT_USAGE });
});
