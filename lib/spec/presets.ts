/**
 * Per-kind defaults for a step (`preset: preprocess | train | infer`). A spec value overrides the preset's value
 * field by field (e.g. `retry.maxAttempts` alone keeps the preset's backoff). Without a preset, a field the spec
 * leaves unset stays unset and the Cloud Tasks service default applies (SERVICE_DEFAULTS in
 * lib/core/rules/cloud-tasks.ts), except dispatchDeadline (10 min, the Cloud Tasks default) and logSamplingRatio (1.0,
 * see DEFAULT_LOG_SAMPLING_RATIO), which the normalized model always carries.
 *
 * Every value is inside the Cloud Tasks limits (a test runs each preset through pipelineProblems).
 */
import { LIMITS } from '../core/rules/cloud-tasks';
import type { StepPreset, StepRateLimits, StepRetry } from './types';

export interface StepPresetValues {
  readonly rateLimits: StepRateLimits;
  readonly retry: StepRetry;
  readonly dispatchDeadlineSeconds: number;
  readonly logSamplingRatio: number;
}

export const STEP_PRESETS: Readonly<Record<StepPreset, StepPresetValues>> = {
  /** Many small CPU tasks (one shard of a dataset each): fan out fast, fail fast, log a sample. */
  preprocess: {
    rateLimits: {
      // A fan-out of thousands of shards drains in minutes, at a rate CPU Cloud Run services scale up to without a
      // wall of cold-start 503s; well under the 500/s queue ceiling, so there is room to raise it.
      maxDispatchesPerSecond: 100,
      // Shards take seconds: ~100 in flight keeps up with 100/s; 200 leaves headroom for slow shards while capping
      // how many worker instances one run can occupy.
      maxConcurrentDispatches: 200,
    },
    retry: {
      // Cold starts and quota blips clear within a few tries; a shard failing 5 times is a data bug, not bad luck.
      maxAttempts: 5,
      // 5s, 10s, 20s, 40s, 80s: long enough for an instance to come up, short enough not to stall the run.
      minBackoffSeconds: 5,
      maxBackoffSeconds: 300,
      maxDoublings: 4,
    },
    // A small CPU task ends in seconds; 5 min (half the service default) catches hung workers sooner.
    dispatchDeadlineSeconds: 300,
    // Thousands of dispatches per run: a 10% sample shows the pattern at a tenth of the Cloud Logging volume.
    logSamplingRatio: 0.1,
  },

  /** Few, long, expensive tasks (a training run each): low concurrency, long deadline, few patient retries. */
  train: {
    rateLimits: {
      // A handful of tasks per run: starting one per second staggers them and costs nothing in wall time.
      maxDispatchesPerSecond: 1,
      // Each dispatch holds an accelerator; 2 in flight keeps GPU quota and cost bounded. Raise it on purpose.
      maxConcurrentDispatches: 2,
    },
    retry: {
      // Each attempt is expensive: 3 covers a preemption or a transient error, then a person should look.
      maxAttempts: 3,
      // 1 min, then 2 min, then 4 min: lets a preempted node or exhausted quota recover before paying again.
      minBackoffSeconds: 60,
      maxBackoffSeconds: 1800,
      maxDoublings: 2,
    },
    // The longest HTTP dispatch deadline Cloud Tasks allows. Training longer than that must run as a job: the worker
    // starts it (Cloud Run job, Vertex AI) and answers 2xx, then enqueues `next` when the job ends.
    dispatchDeadlineSeconds: LIMITS.maxDispatchDeadlineSeconds,
    // Few dispatches, each costly: log all of them.
    logSamplingRatio: 1.0,
  },

  /** Many short requests (batch or online scoring): high rate, short deadline, quick retries. */
  infer: {
    rateLimits: {
      // High throughput for scoring fan-outs, still below the 500/s per-queue ceiling so a burst can be absorbed by
      // raising it rather than by splitting the queue.
      maxDispatchesPerSecond: 200,
      // Sub-second requests: ~200 in flight sustain 200/s; 400 absorbs latency spikes.
      maxConcurrentDispatches: 400,
    },
    retry: {
      // A prediction is cheap to retry but stale if late: 5 attempts, then give up (no maxRetryDuration, which
      // would keep retrying after the attempts are spent: Cloud Tasks stops only when BOTH run out).
      maxAttempts: 5,
      // 1s, 2s, 4s, 8s: all retries done within ~15 s.
      minBackoffSeconds: 1,
      maxBackoffSeconds: 10,
      maxDoublings: 3,
    },
    // An inference request answers in seconds; a worker silent for a minute is stuck, so fail and retry elsewhere.
    dispatchDeadlineSeconds: 60,
    // High volume: a 10% sample is enough to see error patterns.
    logSamplingRatio: 0.1,
  },
};

export const STEP_PRESET_NAMES = Object.keys(STEP_PRESETS) as StepPreset[];

/**
 * Logging sampling ratio of a step with neither a preset nor a spec value. Cloud Tasks' own default is 0.0 (no
 * dispatch logs at all); a pipeline without task logs cannot be debugged, so steps log every dispatch unless told
 * otherwise (set `logSamplingRatio` lower for high-volume steps, or use a preset).
 */
export const DEFAULT_LOG_SAMPLING_RATIO = 1.0;
