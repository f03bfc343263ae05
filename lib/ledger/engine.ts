/**
 * The run engine: the ledger side of the delivery protocol (docs/worker.md, "Protocol"), safe under at-least-once
 * delivery and concurrent workers.
 *
 *   claimShard        absent / pending / lease expired -> running (attempts + 1, lease = dispatch deadline);
 *                     live lease -> busy; done -> duplicate; run not running -> skipped
 *   completeShard     running -> done, with outputs, emits and emit counts in ONE write
 *   advanceAfterShard create the join:each tasks of the shard's emits, then try to complete its step
 *   tryCompleteStep   every parent complete AND done shards == expected -> claim (create-if-absent), mark complete,
 *                     advance: open join:each next steps, create the ONE task of join:all next steps (claimed too)
 *   tryFinishRun      no step of the run left open -> running -> succeeded (compare-and-set on the run document)
 *   failShard         -> shard failed, run failed (first failure wins), step failed; nothing new starts afterwards
 *
 * Two guards make each hand-off happen once: the claim documents (first), and deterministic task names (second:
 * Cloud Tasks refuses a name used within about an hour). The shard documents make each shard's WORK happen once:
 * whatever duplicates reach a worker, only the claim holder runs it, and a done shard is never run again.
 */
import {
  JOIN_SHARD,
  SMALL_FIELDS_ROOM as room,
  START_SHARD,
  childShardId,
  claimIdFor,
  newRunDocument,
  startStepDocument,
  type FailureKind,
  type RunFailure,
  type RunSource,
} from '../core/ledger-layout';
import { runParents, runSteps, type PipelineRoutes } from '../core/routes';
import { documentSizeBytes, documentSizeProblems, FIRESTORE_LIMITS } from '../core/rules/firestore';
import type { LedgerClock } from './clock';
import { PermanentError } from './errors';
import type { LedgerEvent, LedgerEventListener } from './events';
import type { LedgerStore, RunRecord, ShardRecord, StepRecord } from './store';
import { createStepTask, mapLimit, stepTaskBody, type LedgerTasksClient } from './tasks';
import { jobShardId, shardLeaseSeconds, shardsPerMessage } from '../core/job-route';
import type { Timestamp } from '@google-cloud/firestore';

/** How many CreateTask calls one delivery has in flight at most (a fan-out of 1,000 is sent 32 at a time). */
const CREATE_CONCURRENCY = 32;

/** One task's identity in the ledger. */
export interface ShardKey {
  readonly runId: string;
  readonly step: string;
  readonly shard: string;
}

export interface DeliveryInput extends ShardKey {
  /** The generation of the task (0, or the re-drive that created it). */
  readonly generation: number;
  /** The message the task carries, as JSON text. */
  readonly messageJson: string;
  readonly from?: { readonly step: string; readonly shard: string; readonly index: number };
  /** Who holds the lease: `<task id>/<retry count>`. */
  readonly leaseOwner: string;
  /**
   * A job task's retry takes over the lease of its own earlier attempt (`<leaseHolder>/<n>`): the platform stopped
   * that attempt before it retried. @default - a live lease is never taken over
   */
  readonly leaseHolder?: string;
}

export type ClaimResult =
  | {
      readonly kind: 'claimed';
      /** 1-based, over every attempt the ledger saw for this shard. */
      readonly attempt: number;
      /** First attempt of this generation (ms): the queue's retry budget counts from it. */
      readonly firstAttemptAt: number;
      readonly leaseUntil: number;
      /** The precondition of this attempt's next write. */
      readonly token: Timestamp;
    }
  | { readonly kind: 'duplicate'; readonly shard: ShardRecord }
  | { readonly kind: 'busy'; readonly leaseUntil: number; readonly leaseOwner?: string }
  | { readonly kind: 'skipped'; readonly reason: string };

export interface ShardOutcome {
  /** Messages per next step, each as JSON text. */
  readonly emits: Readonly<Record<string, readonly string[]>>;
  readonly outputs: Readonly<Record<string, string>>;
}

export interface NewRun {
  readonly runId: string;
  readonly startStep: string;
  readonly source: RunSource;
  readonly inputJson: string;
  /** When the first task is due, if in the future (ms). */
  readonly notBeforeMs?: number;
  /** The id of the task that starts it. */
  readonly startTaskId?: string;
}

export interface EngineOptions {
  readonly routes: PipelineRoutes;
  readonly store: LedgerStore;
  readonly tasks: LedgerTasksClient;
  readonly clock: LedgerClock;
  readonly onEvent?: LedgerEventListener;
}

/** Options of the progress functions: who acts, and whether a re-drive may take over claims of dead owners. */
export interface Actor {
  /** `<step>/<shard>` of the delivery, or `redrive-<n>`. */
  readonly owner: string;
  readonly takeOver?: boolean;
}

const COMPLETE_STATES: ReadonlyArray<StepRecord['state']> = ['complete', 'skipped'];
/** Complete step documents kept per engine (oldest dropped first). */
const COMPLETE_STEP_CACHE = 10_000;

export class RunEngine {
  readonly routes: PipelineRoutes;
  readonly store: LedgerStore;
  readonly tasks: LedgerTasksClient;
  readonly clock: LedgerClock;
  private readonly onEvent: LedgerEventListener;
  /** Complete (or skipped) step documents, by run and step: they never change again. */
  private readonly completeSteps = new Map<string, StepRecord>();

  constructor(o: EngineOptions) {
    this.routes = o.routes;
    this.store = o.store;
    this.tasks = o.tasks;
    this.clock = o.clock;
    this.onEvent = o.onEvent ?? (() => undefined);
  }

  emit(e: LedgerEvent): void {
    try {
      this.onEvent(e);
    } catch {
      // A listener's bug must not change what the ledger decided.
    }
  }

  private now(): Date {
    return new Date(this.clock.now());
  }

  // ---------------------------------------------------------------- runs

  /**
   * The run, created on first sight when absent (create-if-absent: a concurrent first sight gets the same run):
   * the run document and its start step's opening, in that order.
   */
  async ensureRun(r: NewRun): Promise<{ run: RunRecord; created: boolean }> {
    const existing = await this.store.getRun(r.runId);
    if (existing) return { run: existing, created: false };
    const now = this.now();
    const doc = newRunDocument({ ...r, pipeline: this.routes.pipeline, stack: this.routes.stack }, now);
    const created = await this.store.create(this.store.runRef(r.runId), { ...doc });
    const run = (await this.store.getRun(r.runId))!;
    if (created) {
      await this.store.create(this.store.stepRef(r.runId, r.startStep), {
        ...startStepDocument(r.startStep, now, shardsPerMessage(this.routes.steps[r.startStep])),
      });
      this.emit({
        type: 'run-created',
        severity: 'INFO',
        message: `run ${r.runId} started at ${r.startStep} (${r.source.kind}${r.source.name ? ` ${r.source.name}` : ''})`,
        runId: r.runId,
        step: r.startStep,
        fields: { source: r.source },
      });
    }
    return { run, created };
  }

  /** The first failure of a run wins: running -> failed, and the step named in it -> failed. */
  async failRun(runId: string, failure: RunFailure): Promise<boolean> {
    const now = this.now();
    const { result: won } = await this.store.compareAndSet<RunRecord, boolean>(this.store.runRef(runId), (run) =>
      run?.status === 'running'
        ? { write: { status: 'failed', failure, finishedAt: now, updatedAt: now }, result: true }
        : { result: false },
    );
    if (!won) return false;
    await this.store.set(this.store.stepRef(runId, failure.step), { step: failure.step, state: 'failed', failure });
    this.emit({
      type: 'run-failed',
      severity: 'ERROR',
      message: `run ${runId} failed at ${failure.step}${failure.shard ? ` (shard ${failure.shard})` : ''}: ${failure.reason}`,
      runId,
      step: failure.step,
      shard: failure.shard,
      fields: { failure },
    });
    return true;
  }

  /** When every step of the run is complete or skipped: running -> succeeded. */
  async tryFinishRun(runId: string): Promise<boolean> {
    const run = await this.store.getRun(runId);
    if (!run || run.status !== 'running') return false;
    const steps = runSteps(this.routes, run.startStep);
    const docs = await this.store.getSteps(runId, steps);
    if (!docs.every((d) => d && COMPLETE_STATES.includes(d.state))) return false;
    const now = this.now();
    const { result: won } = await this.store.compareAndSet<RunRecord, boolean>(this.store.runRef(runId), (r) =>
      r?.status === 'running'
        ? { write: { status: 'succeeded', finishedAt: now, updatedAt: now }, result: true }
        : { result: false },
    );
    if (won)
      this.emit({
        type: 'run-succeeded',
        severity: 'INFO',
        message: `run ${runId} succeeded (${steps.length} steps, ${((now.getTime() - run.createdAt) / 1000).toFixed(1)} s)`,
        runId,
        fields: { durationSeconds: (now.getTime() - run.createdAt) / 1000 },
      });
    return won;
  }

  // ---------------------------------------------------------------- shards

  /** Step 3 of the protocol: take the shard for this delivery, or say why not. */
  async claimShard(d: DeliveryInput): Promise<ClaimResult> {
    const ref = this.store.shardRef(d.runId, d.step, d.shard);
    // The run and the shard in one round trip: the run says whether to work at all, the shard whether it is free.
    const [runRead, shardRead] = await this.store.getMany([this.store.runRef(d.runId), ref]);
    const run = runRead.record as RunRecord | undefined;
    if (!run) return { kind: 'skipped', reason: `run ${d.runId} is not in the ledger (stack ${this.routes.stack})` };
    if (run.status !== 'running') {
      const shard = shardRead.record as ShardRecord | undefined;
      if (shard?.state === 'done') return { kind: 'duplicate', shard };
      return { kind: 'skipped', reason: `run ${d.runId} is ${run.status}` };
    }
    const now = this.clock.now();
    const leaseUntil = now + shardLeaseSeconds(this.routes.steps[d.step]) * 1000;
    const message = this.messageFields(ref.path, d.messageJson);
    const { result, writeTime } = await this.store.compareAndSet<ShardRecord, ClaimResult>(
      ref,
      (s) => {
        const claim = (attempt: number, firstAttemptAt: number, generation: number) => ({
          write: {
            state: 'running',
            attempts: attempt,
            generation,
            leaseUntil: new Date(leaseUntil),
            leaseOwner: d.leaseOwner,
            firstAttemptAt: new Date(firstAttemptAt),
            startedAt: new Date(now),
            updatedAt: new Date(now),
            ...(s ? {} : { step: d.step, shard: d.shard, ...message, ...(d.from ? { from: d.from } : {}) }),
          },
          // The token is filled in from the write time below.
          result: { kind: 'claimed', attempt, firstAttemptAt, leaseUntil } as ClaimResult,
        });
        if (!s) return claim(1, now, d.generation);
        if (s.state === 'done') return { result: { kind: 'duplicate', shard: s } };
        if (s.state === 'failed' && d.generation <= s.generation)
          return {
            result: { kind: 'skipped', reason: `shard ${d.shard} of ${d.step} failed: ${s.error?.message ?? ''}` },
          };
        const ownLease = d.leaseHolder !== undefined && s.leaseOwner?.startsWith(`${d.leaseHolder}/`);
        if (s.state === 'running' && (s.leaseUntil ?? 0) > now && !ownLease)
          return { result: { kind: 'busy', leaseUntil: s.leaseUntil!, leaseOwner: s.leaseOwner } };
        // pending (re-driven), an expired lease, or a failed shard re-enqueued by a newer generation.
        const newGeneration = d.generation > s.generation || s.state === 'pending';
        return claim(s.attempts + 1, newGeneration ? now : s.firstAttemptAt, Math.max(s.generation, d.generation));
      },
      shardRead.snap,
    );
    return result.kind === 'claimed' ? { ...result, token: writeTime! } : result;
  }

  /** The message kept on the shard: its JSON text, or a note when the document could not hold it. */
  private messageFields(path: string, messageJson: string): { message: string } | { messageNote: string } {
    const size = documentSizeBytes(path, { message: messageJson, room });
    return size <= FIRESTORE_LIMITS.maxDocumentBytes
      ? { message: messageJson }
      : {
          messageNote: `the message (${Buffer.byteLength(messageJson).toLocaleString('en-US')} bytes) is too large to keep here; its task carried it`,
        };
  }

  /**
   * Step 5's write: the shard done, with its outputs and emits, in one write that applies only if this attempt still
   * holds the shard. If another attempt took it meanwhile (this one outlived its lease), the first to finish wins:
   * a shard already done is returned as it is (its emits, not these, go on).
   */
  async completeShard(
    d: ShardKey,
    token: Timestamp,
    outcome: ShardOutcome,
    /** The message the claim kept on the shard (its JSON text), if it did. */
    keptMessageJson?: string,
  ): Promise<ShardRecord> {
    const ref = this.store.shardRef(d.runId, d.step, d.shard);
    const now = new Date(this.clock.now());
    const emitCounts = Object.fromEntries(Object.entries(outcome.emits).map(([n, m]) => [n, m.length]));
    const results = { outputs: outcome.outputs, emits: outcome.emits, emitCounts };
    const fields: Record<string, unknown> = {
      state: 'done',
      ...results,
      finishedAt: now,
      updatedAt: now,
      leaseUntil: this.store.deleteField(),
    };
    // The document after this write. A done shard is never re-sent, so when its received message and its results do
    // not fit together, the message goes (its parent's emits still hold it).
    if (documentSizeProblems(documentSizeBytes(ref.path, { ...results, message: keptMessageJson, room })).length) {
      fields.message = this.store.deleteField();
      fields.messageNote = 'dropped when the shard completed, to make room for its outputs and emits';
    }
    const [tooLarge] = documentSizeProblems(documentSizeBytes(ref.path, { ...results, room }));
    if (tooLarge)
      throw new PermanentError(
        `the outputs and emitted messages of shard ${d.shard} are too large for the ledger: ${tooLarge.message}. Emit URIs of the data (e.g. gs://bucket/path) rather than the data itself`,
      );
    if (await this.store.updateIfUnchanged(ref, fields, token))
      // What the advance reads of the shard; the claim's fields are not needed there.
      return {
        step: d.step,
        shard: d.shard,
        state: 'done',
        outputs: outcome.outputs,
        emits: outcome.emits,
        emitCounts,
        finishedAt: now.getTime(),
        updatedAt: now.getTime(),
      } as ShardRecord;
    const { result } = await this.store.compareAndSet<ShardRecord, ShardRecord | undefined>(ref, (s) =>
      s && s.state === 'running' ? { write: fields, result: undefined } : { result: s },
    );
    return result ?? (await this.store.getShard(d.runId, d.step, d.shard))!;
  }

  /** A transient failure: the error noted, the lease released so the queue's retry can claim at once. */
  async releaseShard(d: ShardKey, token: Timestamp, message: string, attempt: number): Promise<void> {
    const now = new Date(this.clock.now());
    await this.store.updateIfUnchanged(
      this.store.shardRef(d.runId, d.step, d.shard),
      { leaseUntil: now, updatedAt: now, error: { message, final: false, attempt } },
      token,
    );
  }

  /** A permanent failure, or the last attempt of the retry budget: the shard, its step and its run fail. */
  async failShard(
    d: ShardKey,
    token: Timestamp | undefined,
    message: string,
    attempt: number,
    kind: FailureKind,
  ): Promise<void> {
    const ref = this.store.shardRef(d.runId, d.step, d.shard);
    const now = new Date(this.clock.now());
    const fields = { state: 'failed', error: { message, final: true, attempt }, finishedAt: now, updatedAt: now };
    const update = { ...fields, leaseUntil: this.store.deleteField() };
    const written = token ? await this.store.updateIfUnchanged(ref, update, token) : false;
    if (!written) {
      // Someone else holds or finished it: a done shard is never turned into a failure.
      const { result: failed } = await this.store.compareAndSet<ShardRecord, boolean>(ref, (s) => {
        if (s?.state === 'done') return { result: false };
        if (s) return { write: update, result: true };
        const created = {
          step: d.step,
          shard: d.shard,
          attempts: attempt,
          generation: 0,
          firstAttemptAt: now,
          startedAt: now,
        };
        return { write: { ...created, ...fields }, result: true };
      });
      if (!failed) return;
    }
    await this.failRun(d.runId, { step: d.step, shard: d.shard, kind, reason: message });
  }

  // ---------------------------------------------------------------- progress

  /**
   * Step 5 after the shard is done (and again for every duplicate: each call is idempotent): the shard's join:each
   * tasks, then the step's completion. Nothing is started when the run is no longer running.
   */
  async advanceAfterShard(d: ShardKey, shard: ShardRecord, runRead?: Promise<RunRecord | undefined>): Promise<void> {
    // The run only decides whether to start what follows, so it may be read while the shard's done write is under
    // way (`runRead`). The parents are read by tryCompleteStep after that write: a parent completing concurrently
    // then sees this shard done, or this call sees the parent complete (one of the two completes the step).
    const run = await (runRead ?? this.store.getRun(d.runId));
    if (!run || run.status !== 'running') return;
    const inRun = runSteps(this.routes, run.startStep);
    const actor: Actor = { owner: `${d.step}/${d.shard}` };
    await this.createChildTasks(run, d.step, shard, inRun);
    if (await this.tryCompleteStep(run, d.step, actor)) await this.tryFinishRun(d.runId);
  }

  /** The join:each tasks a done shard's emits make (deterministic names: a second call creates nothing). */
  async createChildTasks(
    run: RunRecord,
    step: string,
    shard: ShardRecord,
    inRun: readonly string[],
    generation = 0,
  ): Promise<number> {
    let created = 0;
    for (const next of this.routes.steps[step].next) {
      if (!inRun.includes(next) || this.routes.steps[next].join !== 'each') continue;
      const messages = shard.emits?.[next] ?? [];
      const parents = this.routes.steps[next].parents.length;
      const results = await mapLimit(messages, CREATE_CONCURRENCY, (payloadJson, index) => {
        const from = { step, shard: shard.shard, index };
        return createStepTask(this.tasks, this.routes, {
          runId: run.runId,
          step: next,
          shard: childShardId(from, parents),
          generation,
          payloadJson,
          from,
        });
      });
      const n = results.filter((r) => r.created).length;
      created += n;
      if (messages.length)
        this.emit({
          type: 'tasks-created',
          severity: 'DEBUG',
          message: `${step} shard ${shard.shard}: ${n} of ${messages.length} tasks for ${next} created (the others existed)`,
          runId: run.runId,
          step,
          shard: shard.shard,
          fields: { next, created: n, messages: messages.length },
        });
    }
    return created;
  }

  /**
   * The step is complete when every parent in the run is complete (or skipped) and as many shards are done as it
   * expects; the first to see it (the completion claim) marks it and advances. Called by each of its shards, by
   * each parent's completion, and by a re-drive.
   */
  /** Returns whether this call completed (or skipped) the step. */
  async tryCompleteStep(run: RunRecord, step: string, actor: Actor): Promise<boolean> {
    const inRun = runSteps(this.routes, run.startStep);
    const parents = runParents(this.routes, inRun, step);
    const parentDocs = await this.parentSteps(run.runId, parents);
    if (!parentDocs.every((p) => p && COMPLETE_STATES.includes(p.state))) return false;
    const route = this.routes.steps[step];
    const incoming = parentDocs.reduce((n, p) => n + (p!.emitted?.[step] ?? 0), 0);
    const messages = step === run.startStep ? 1 : route.join === 'all' ? (incoming > 0 ? 1 : 0) : incoming;
    const expected = messages * shardsPerMessage(route);
    const nexts = route.next.filter((n) => inRun.includes(n));
    // A shard still running (the usual case in a fan-out) means not yet: one index lookup instead of a count.
    if (expected > 1 && (await this.store.anyUnfinished(run.runId, step))) return false;
    const counted =
      expected === 0
        ? { done: 0, emitted: {} as Record<string, number> }
        : await this.store.countDone(run.runId, step, nexts);
    if (counted.done < expected) return false;
    // Once per step: a run that failed or was cancelled meanwhile completes nothing more (a re-drive will).
    const current = await this.store.getRun(run.runId);
    if (current?.status !== 'running') return false;
    if (!(await this.claimOnce(run.runId, claimIdFor.completion(step), actor))) return false;
    const emitted = Object.fromEntries(nexts.map((n) => [n, counted.emitted[n] ?? 0]));
    const skipped = expected === 0;
    await this.store.set(this.store.stepRef(run.runId, step), {
      step,
      state: skipped ? 'skipped' : 'complete',
      expected,
      succeeded: counted.done,
      emitted,
      completedAt: this.now(),
    });
    this.emit({
      type: skipped ? 'step-skipped' : 'step-complete',
      severity: 'INFO',
      message: skipped
        ? `${step} skipped: no message reached it in run ${run.runId}`
        : `${step} complete in run ${run.runId}: ${counted.done} shard${counted.done === 1 ? '' : 's'} done${nexts.length ? `, emitted ${nexts.map((n) => `${emitted[n]} to ${n}`).join(', ')}` : ''}`,
      runId: run.runId,
      step,
      fields: { expected, succeeded: counted.done, emitted },
    });
    await this.advance(current, step, actor);
    return true;
  }

  /** After `step` completed: open or start each next step whose parents in the run are all complete. */
  async advance(run: RunRecord, step: string, actor: Actor): Promise<void> {
    const runId = run.runId;
    const inRun = runSteps(this.routes, run.startStep);
    for (const next of this.routes.steps[step].next.filter((n) => inRun.includes(n))) {
      const parents = runParents(this.routes, inRun, next);
      const docs = await this.parentSteps(runId, parents);
      if (!docs.every((p) => p && COMPLETE_STATES.includes(p.state))) continue;
      const incoming = docs.reduce((n, p) => n + (p!.emitted?.[next] ?? 0), 0);
      if (incoming > 0)
        await this.openStep(
          runId,
          next,
          (this.routes.steps[next].join === 'all' ? 1 : incoming) * shardsPerMessage(this.routes.steps[next]),
        );
      if (this.routes.steps[next].join === 'all' && incoming > 0) {
        if (await this.claimOnce(runId, claimIdFor.join(next), actor))
          await this.startJoin(run, next, parents, incoming, actor);
      } else {
        // join:each (its shards may all be done already), or a join:all step no message reached (skipped).
        await this.tryCompleteStep(run, next, actor);
      }
    }
  }

  /**
   * Step documents of parents, read once they are complete: a complete or skipped step never changes again (a
   * re-drive reopens only failed steps), so each delivery of a 1,000-shard fan-out need not read its parent again.
   */
  private async parentSteps(runId: string, parents: readonly string[]): Promise<Array<StepRecord | undefined>> {
    const key = (p: string) => `${runId}\0${p}`;
    const missing = parents.filter((p) => !this.completeSteps.has(key(p)));
    const read = await this.store.getSteps(runId, missing);
    missing.forEach((p, i) => {
      const doc = read[i];
      if (doc && COMPLETE_STATES.includes(doc.state)) {
        if (this.completeSteps.size >= COMPLETE_STEP_CACHE)
          this.completeSteps.delete(this.completeSteps.keys().next().value!);
        this.completeSteps.set(key(p), doc);
      }
    });
    return parents.map((p) => this.completeSteps.get(key(p)) ?? read[missing.indexOf(p)]);
  }

  private async openStep(runId: string, step: string, expected: number): Promise<void> {
    const opened = await this.store.create(this.store.stepRef(runId, step), {
      step,
      state: 'open',
      expected,
      openedAt: this.now(),
    });
    if (opened)
      this.emit({
        type: 'step-opened',
        severity: 'DEBUG',
        message: `${step} open in run ${runId}: ${expected} task${expected === 1 ? '' : 's'} expected`,
        runId,
        step,
        fields: { expected },
      });
  }

  /** The ONE task of a join:all step, carrying every parent's messages; a run fails if they cannot fit in a task. */
  private async startJoin(
    run: RunRecord,
    step: string,
    parents: readonly string[],
    incoming: number,
    actor: Actor,
    generation = 0,
  ): Promise<void> {
    const payloadJson = await this.joinPayloadJson(run.runId, step, parents);
    try {
      const { name, created } = await createStepTask(this.tasks, this.routes, {
        runId: run.runId,
        step,
        shard: JOIN_SHARD,
        generation,
        payloadJson,
      });
      this.emit({
        type: 'join-task-created',
        severity: 'INFO',
        message: `${step}: ${created ? 'created the' : 'the'} join task of run ${run.runId}${created ? '' : ' existed'} (${incoming} message${incoming === 1 ? '' : 's'} from ${parents.join(', ')})`,
        runId: run.runId,
        step,
        shard: JOIN_SHARD,
        fields: { task: name, created, messages: incoming, owner: actor.owner },
      });
    } catch (err) {
      if (!(err instanceof PermanentError)) throw err;
      await this.failRun(run.runId, { step, kind: 'message-too-large', reason: err.message });
    }
  }

  /** `{ "<parent>": [message, ...] }`, parents in routes order, messages by shard then emit order. */
  async joinPayloadJson(runId: string, step: string, parents: readonly string[]): Promise<string> {
    const parts: string[] = [];
    for (const parent of parents) {
      const shards = (await this.store.emitsOf(runId, parent, step)).sort((a, b) => compareShardIds(a.shard, b.shard));
      parts.push(`${JSON.stringify(parent)}:[${shards.flatMap((s) => s.messages).join(',')}]`);
    }
    return `{${parts.join(',')}}`;
  }

  /** Creates the claim, or finds it is ours already; a re-drive takes over a claim of a delivery that died. */
  async claimOnce(runId: string, claim: string, actor: Actor): Promise<boolean> {
    const ref = this.store.claimRef(runId, claim);
    if (await this.store.create(ref, { owner: actor.owner, createdAt: this.now() })) return true;
    const { result } = await this.store.compareAndSet<{ owner: string }, boolean>(ref, (c) => {
      if (c?.owner === actor.owner) return { result: true };
      if (actor.takeOver || !c) return { write: { owner: actor.owner, createdAt: this.now() }, result: true };
      return { result: false };
    });
    return result;
  }

  /**
   * The step's shards the run expects, with the message each carries (for cancel and re-drive): one per message, or
   * for a job step one per task of each message's execution (`<message shard>#<index>`).
   */
  async expectedShards(
    run: RunRecord,
    step: string,
  ): Promise<Array<{ shard: string; payloadJson?: string; from?: { step: string; shard: string; index: number } }>> {
    const messages = await this.expectedMessages(run, step);
    const route = this.routes.steps[step];
    if (!route.job) return messages;
    return messages.flatMap((m) =>
      Array.from({ length: shardsPerMessage(route) }, (_, i) => ({ ...m, shard: jobShardId(m.shard, i) })),
    );
  }

  private async expectedMessages(
    run: RunRecord,
    step: string,
  ): Promise<Array<{ shard: string; payloadJson?: string; from?: { step: string; shard: string; index: number } }>> {
    if (step === run.startStep) return [{ shard: START_SHARD, payloadJson: run.input }];
    const inRun = runSteps(this.routes, run.startStep);
    const parents = runParents(this.routes, inRun, step);
    const route = this.routes.steps[step];
    if (route.join === 'all') {
      const docs = await this.store.getSteps(run.runId, parents);
      const ready = docs.every((p) => p && COMPLETE_STATES.includes(p.state));
      const incoming = docs.reduce((n, p) => n + (p?.emitted?.[step] ?? 0), 0);
      return ready && incoming > 0
        ? [{ shard: JOIN_SHARD, payloadJson: await this.joinPayloadJson(run.runId, step, parents) }]
        : [];
    }
    const out: Array<{ shard: string; payloadJson: string; from: { step: string; shard: string; index: number } }> = [];
    for (const parent of parents)
      for (const s of await this.store.emitsOf(run.runId, parent, step))
        s.messages.forEach((payloadJson, index) => {
          const from = { step: parent, shard: s.shard, index };
          out.push({ shard: childShardId(from, route.parents.length), payloadJson, from });
        });
    return out;
  }

  /** Size check of a message as a task for `step` (PermanentError when too large). */
  checkMessage(step: string, payloadJson: string, what: string): void {
    stepTaskBody(this.routes, { step, shard: 'x', generation: 0, payloadJson }, what);
  }
}

/** Shard ids in natural order: 0.2 before 0.10, segment by segment. */
export function compareShardIds(a: string, b: string): number {
  const pa = a.split(/([.:#])/);
  const pb = b.split(/([.:#])/);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const na = /^\d+$/.test(pa[i]) ? Number(pa[i]) : NaN;
    const nb = /^\d+$/.test(pb[i]) ? Number(pb[i]) : NaN;
    const c = !Number.isNaN(na) && !Number.isNaN(nb) ? na - nb : pa[i] < pb[i] ? -1 : pa[i] > pb[i] ? 1 : 0;
    if (c !== 0) return c;
  }
  return pa.length - pb.length;
}
