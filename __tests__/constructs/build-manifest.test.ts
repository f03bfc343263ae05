import { buildSeedManifest, serializeSeedManifest, sha256Hex } from '../../lib/constructs/build-manifest';
import { validateManifest } from '../../lib/seeder/validate';
import { NOW, pipelineSpec, step } from './fixtures';
import { taskIdFor } from '../../lib/core/naming';

describe('buildSeedManifest', () => {
  test('GIVEN seed tasks on an oidc step THEN each task carries the FULL HTTP request, the invoker token and the step deadline', () => {
    const m = buildSeedManifest(pipelineSpec());
    expect(m).toMatchObject({ version: 1, stack: 'recsys-dev', project: 'ml-platform-dev', location: 'us-central1' });
    expect(m.tasks).toHaveLength(2);
    const queue = 'projects/ml-platform-dev/locations/us-central1/queues/recsys-dev-preprocess';
    expect(m.tasks[0]).toEqual({
      step: 'preprocess',
      seedId: 'daily-2026-01-15',
      queue,
      taskId: taskIdFor(queue, 'daily-2026-01-15'),
      dispatchDeadlineSeconds: 600,
      httpRequest: {
        url: 'https://preprocess-abc123-uc.a.run.app/tasks/preprocess',
        httpMethod: 'POST',
        headers: { 'X-Pipeline': 'recsys', 'Content-Type': 'application/json' },
        body: JSON.stringify({ dataset: 'gs://recsys/raw/2026-01-15', shards: 4 }),
        oidcToken: {
          serviceAccountEmail: 'recsys-dev@ml-platform-dev.iam.gserviceaccount.com',
          audience: 'https://preprocess-abc123-uc.a.run.app', // Cloud Run: the service URL
        },
      },
    });
    expect(m.tasks[0].taskId).toMatch(/^[0-9a-f]{16}-daily-2026-01-15$/);
    // The schedule time is passed on exactly as written.
    expect(m.tasks[1].scheduleTime).toBe('2026-01-20T06:00:00+01:00');
    expect(m.tasks[0]).not.toHaveProperty('scheduleTime');
  });

  test('GIVEN an oauth step THEN oauthToken with the invoker and the default scope; GIVEN auth none THEN no token', () => {
    const base = pipelineSpec();
    const spec = pipelineSpec({
      pipeline: {
        ...base.pipeline,
        steps: [
          ...base.pipeline.steps,
          step('notify', { target: { url: 'https://hooks.example.com/n', auth: 'none', headers: {}, method: 'POST' } }),
        ],
        seedTasks: [
          { step: 'infer', id: 'warmup', payload: { instances: [] } },
          { step: 'notify', id: 'hello', payload: 'hi' },
        ],
      },
    });
    const [infer, notify] = buildSeedManifest(spec).tasks;
    expect(infer.httpRequest.oauthToken).toEqual({
      serviceAccountEmail: 'recsys-dev@ml-platform-dev.iam.gserviceaccount.com',
      scope: 'https://www.googleapis.com/auth/cloud-platform',
    });
    expect(infer.httpRequest).not.toHaveProperty('oidcToken');
    expect(notify.httpRequest).not.toHaveProperty('oidcToken');
    expect(notify.httpRequest).not.toHaveProperty('oauthToken');
    expect(notify.httpRequest.body).toBe('"hi"');
  });

  test('GIVEN a Content-Type in the step headers THEN it is kept, not doubled', () => {
    const base = pipelineSpec();
    const pre = base.pipeline.steps[0];
    const spec = pipelineSpec({
      pipeline: {
        ...base.pipeline,
        steps: [
          { ...pre, target: { ...pre.target, headers: { 'content-type': 'application/vnd.recsys+json' } } },
          ...base.pipeline.steps.slice(1),
        ],
      },
    });
    expect(buildSeedManifest(spec).tasks[0].httpRequest.headers).toEqual({
      'content-type': 'application/vnd.recsys+json',
    });
  });

  test('GIVEN a seed task without payload THEN no body and no Content-Type', () => {
    const base = pipelineSpec();
    const spec = pipelineSpec({
      pipeline: { ...base.pipeline, seedTasks: [{ step: 'preprocess', id: 'empty', payload: undefined }] },
    });
    const [t] = buildSeedManifest(spec).tasks;
    expect(t.httpRequest).not.toHaveProperty('body');
    expect(t.httpRequest.headers).toEqual({ 'X-Pipeline': 'recsys' });
  });

  test('GIVEN the same spec twice THEN byte-identical JSON and the same sha256; a changed payload changes both', () => {
    const a = serializeSeedManifest(buildSeedManifest(pipelineSpec()));
    const b = serializeSeedManifest(buildSeedManifest(pipelineSpec()));
    expect(a).toBe(b);
    expect(sha256Hex(a)).toBe(sha256Hex(b));
    const base = pipelineSpec();
    const changed = pipelineSpec({
      pipeline: {
        ...base.pipeline,
        seedTasks: [{ ...base.pipeline.seedTasks[0], payload: { dataset: 'other' } }, base.pipeline.seedTasks[1]],
      },
    });
    expect(sha256Hex(serializeSeedManifest(buildSeedManifest(changed)))).not.toBe(sha256Hex(a));
  });

  test('serializeSeedManifest sorts keys at every level, so construction order does not change the hash', () => {
    const m = buildSeedManifest(pipelineSpec());
    const reordered = JSON.parse(
      JSON.stringify({
        tasks: m.tasks,
        location: m.location,
        project: m.project,
        stack: m.stack,
        ledger: m.ledger,
        version: m.version,
      }),
    );
    expect(serializeSeedManifest(reordered)).toBe(serializeSeedManifest(m));
    const text = serializeSeedManifest(m);
    expect(Object.keys(JSON.parse(text))).toEqual(['ledger', 'location', 'project', 'stack', 'tasks', 'version']);
    expect(text.endsWith('\n')).toBe(true);
  });

  test('the manifest names the run ledger the seeder records each seed in: the spec ledger, else the one the stack creates', () => {
    expect(buildSeedManifest(pipelineSpec()).ledger).toEqual({
      pipeline: 'recsys',
      project: 'ml-platform-dev',
      database: 'recsys-dev-runs',
    });
    expect(
      buildSeedManifest(pipelineSpec({ ledger: { database: 'ml-runs', project: 'ml-platform-shared' } })).ledger,
    ).toEqual({ pipeline: 'recsys', project: 'ml-platform-shared', database: 'ml-runs' });
  });

  test('GIVEN the manifest WHEN the seeder re-validates it (lib/seeder/validate.ts) THEN it is accepted', () => {
    const text = serializeSeedManifest(buildSeedManifest(pipelineSpec()));
    const result = validateManifest(JSON.parse(text), NOW);
    expect(result).toEqual({ ok: true, manifest: JSON.parse(text) });
  });

  test('GIVEN a seed task on an unknown step or a payload on a GET step THEN refused with the field path', () => {
    const base = pipelineSpec();
    const get = step('fetch', { target: { url: 'https://w.example.com/f', auth: 'none', headers: {}, method: 'GET' } });
    const spec = pipelineSpec({
      pipeline: {
        ...base.pipeline,
        steps: [...base.pipeline.steps, get],
        seedTasks: [
          { step: 'nope', id: 'a', payload: 1 },
          { step: 'fetch', id: 'b', payload: { q: 1 } },
        ],
      },
    });
    expect(() => buildSeedManifest(spec)).toThrow(
      /cannot build the seed manifest of recsys-dev:\n {2}- pipeline\.seedTasks\[0\]\.step: names no step of the pipeline\n {2}- pipeline\.seedTasks\[1\]\.payload: step "fetch" uses GET; Cloud Tasks sends a body only with POST, PUT, PATCH/,
    );
  });
});
