/**
 * The example job: recsys's `train` step (a Cloud Run job of 3 tasks in pipelines/recsys-dev.yaml, a Vertex AI custom
 * job in recsys-prod.yaml, both with `local.command: [node, --require, tsx/cjs, lib/worker/example-job.ts]`), and
 * what `npm run local` runs for a job step without `local.command`. In a container: `node example-job.js`.
 *
 * Each task (shard) fits a straight line to its part of a small dataset derived from the run's input: the input's
 * sha256 seeds the data, task i of n takes every n-th sample, so the result is the same on every retry and every
 * machine. It writes the model as JSON under PIPELINE_OUTPUT_DIR (locally `.local-run/outputs/`; on Cloud Run a
 * mounted Cloud Storage volume, on Vertex AI `/gcs/<bucket>/...`), reports the file as its `model` output and returns
 * it to the next step.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runJobStep } from './sdk';

/** Where the models go. @default `<working directory>/.local-run/outputs` */
export const OUTPUT_DIR_ENV = 'PIPELINE_OUTPUT_DIR';
/** Samples in the whole dataset; each of n tasks fits about SAMPLES / n of them. */
export const SAMPLES = 600;

export interface ShardModel {
  readonly index: number;
  readonly count: number;
  /** sha256 of the input as canonical JSON: the data's seed. */
  readonly inputSha256: string;
  readonly samples: number;
  readonly slope: number;
  readonly intercept: number;
  /** Mean squared error of the fit on the shard's samples. */
  readonly mse: number;
}

/** Fits task `index` of `count`'s part of the dataset derived from `input`: pure and deterministic. */
export function trainShard(input: unknown, index: number, count: number): ShardModel {
  const inputSha256 = createHash('sha256').update(canonicalJson(input)).digest('hex');
  const random = mulberry32(parseInt(inputSha256.slice(0, 8), 16));
  // The line the data follows, and its noise, come from the input: another input, another model.
  const trueSlope = 1 + (parseInt(inputSha256.slice(8, 12), 16) % 400) / 100;
  const trueIntercept = (parseInt(inputSha256.slice(12, 16), 16) % 100) / 10;
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const x = random() * 10;
    const y = trueSlope * x + trueIntercept + (random() - 0.5);
    if (i % count === index) {
      xs.push(x);
      ys.push(y);
    }
  }
  const n = xs.length;
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const mx = mean(xs);
  const my = mean(ys);
  const sxy = xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0);
  const sxx = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const mse = xs.reduce((a, x, i) => a + (ys[i] - (slope * x + intercept)) ** 2, 0) / n;
  const round = (v: number) => Math.round(v * 1e6) / 1e6;
  return { index, count, inputSha256, samples: n, slope: round(slope), intercept: round(intercept), mse: round(mse) };
}

/** JSON with object keys sorted, so equal inputs hash alike whatever their key order. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v ?? null);
}

/** A small seeded PRNG (mulberry32): the same seed, the same sequence. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

if (require.main === module)
  void runJobStep(async (payload, ctx) => {
    const task = ctx.job!;
    const model = trainShard(payload, task.index, task.count);
    const dir = path.join(process.env[OUTPUT_DIR_ENV] ?? path.join(process.cwd(), '.local-run', 'outputs'), ctx.runId);
    // Named after the run and the shard: a retried or duplicated task overwrites the same file with the same model.
    const file = path.join(dir, `${ctx.step}-${task.index}-of-${task.count}.json`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, `${JSON.stringify({ runId: ctx.runId, shard: ctx.shard, ...model }, null, 2)}\n`);
    ctx.log.info(`fitted ${model.samples} samples: y = ${model.slope} x + ${model.intercept} (mse ${model.mse})`, {
      model: file,
    });
    ctx.output('model', file);
    return { model: file, shard: task.index, slope: model.slope, intercept: model.intercept };
  });
