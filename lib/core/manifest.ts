/**
 * The seed manifest: the contract between synth (which writes it as a TerraformAsset) and the seeder (which reads it
 * at deploy time, possibly weeks later, possibly from a copy of the stack directory). It holds complete Cloud Tasks
 * HTTP requests, so the seeder needs nothing but this file and credentials.
 */
import type { HttpMethod } from './rules/cloud-tasks';

export const MANIFEST_VERSION = 1;

/** The manifest's file name inside its asset folder (`assets/<id>/<hash>/seed-manifest.json`). */
export const SEED_MANIFEST_FILE_NAME = 'seed-manifest.json';

export interface ManifestHttpRequest {
  readonly url: string;
  readonly httpMethod: HttpMethod;
  readonly headers: Readonly<Record<string, string>>;
  /** UTF-8 body text (the step payload, JSON-encoded); absent for methods without a body. */
  readonly body?: string;
  readonly oidcToken?: { readonly serviceAccountEmail: string; readonly audience: string };
  readonly oauthToken?: { readonly serviceAccountEmail: string; readonly scope: string };
}

export interface ManifestTask {
  /** Step name in the spec. */
  readonly step: string;
  /** The id the user wrote in `seedTasks[].id`. */
  readonly seedId: string;
  /** Full queue name: projects/{project}/locations/{location}/queues/{queueId}. */
  readonly queue: string;
  /** Deterministic Cloud Tasks task id (see taskIdFor); the same spec always yields the same id. */
  readonly taskId: string;
  /** RFC 3339; absent = dispatch now. */
  readonly scheduleTime?: string;
  readonly dispatchDeadlineSeconds: number;
  readonly httpRequest: ManifestHttpRequest;
}

/**
 * A secret rule the spec suppressed (`policy.suppress`, docs/policy.md), carried into the manifest so that the
 * seeder, which runs the same secret checks at deploy time, lets the same findings through and says why.
 */
export interface ManifestSecretAllowance {
  /** CTP002 (headers), CTP003 (body), CTP007 (url, audience, scope): SECRET_RULES in lib/core/secrets.ts. */
  readonly rule: string;
  /** The suppression's reason, as written in the spec. */
  readonly reason: string;
}

/** Where the seeder records each seed's run (docs/seeding.md, "Runs"): the pipeline's run ledger. */
export interface ManifestLedger {
  /** The pipeline's name (the run documents' `pipeline`). */
  readonly pipeline: string;
  /** The ledger database's project. */
  readonly project: string;
  /** `(default)` or the database id. */
  readonly database: string;
  /**
   * Shards a run started at these steps expects there (a job step's task or replica count), for the start step's
   * document. @default - 1 for every step
   */
  readonly startShards?: Readonly<Record<string, number>>;
}

export interface SeedManifest {
  readonly version: typeof MANIFEST_VERSION;
  /** Stack the manifest belongs to, `<pipeline>-<environment>`. */
  readonly stack: string;
  /**
   * The run ledger: each seed's run document is created there (run id = seed id) before its task, and a seed whose
   * run exists is not started again.
   * @default - no ledger: the tasks are created without run documents (a manifest built by hand)
   */
  readonly ledger?: ManifestLedger;
  readonly project: string;
  readonly location: string;
  readonly tasks: readonly ManifestTask[];
  /**
   * Secret rules suppressed in the spec; absent when none is.
   * @default - none: every secret finding refuses the manifest
   */
  readonly secretsAllowed?: readonly ManifestSecretAllowance[];
}
