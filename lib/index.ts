/**
 * `cloud-tasks-pipelines`: the package root. Importing it only defines things; nothing runs.
 *
 * - constructs (aws-cdk style L2s): PipelineStack, TaskQueue, PipelineInvoker, SeedTasks, QueueAlerts, PipelineSchedules
 * - the spec API: parse, load and validate pipeline specs (the YAML/JSON files in pipelines/, or objects)
 * - the policy pack (cdk-nag style Aspect) and its rules
 * - the synth API: specs -> one PipelineStack each -> cdktf.out, as `cloud-tasks-pipelines synth` does
 *
 * The worker SDK is `cloud-tasks-pipelines/worker`, the in-process emulator `cloud-tasks-pipelines/emulator`.
 */

// Constructs.
export { PipelineStack, API_SERVICES, type PipelineStackProps } from './constructs/pipeline-stack';
export { TaskQueue, type TaskQueueProps, type TaskQueueHttpTarget } from './constructs/task-queue';
export { PipelineInvoker, type PipelineInvokerProps } from './constructs/pipeline-invoker';
export { SeedTasks, MANIFEST_FILE_NAME, type SeedTasksProps } from './constructs/seed-tasks';
export {
  QueueAlerts,
  ALERT_DEFAULTS,
  type QueueAlertsProps,
  type QueueAlertTarget,
  type QueueAlertPolicies,
} from './constructs/queue-alerts';
export {
  PipelineSchedules,
  type PipelineSchedulesProps,
  type PipelineScheduleProps,
} from './constructs/pipeline-schedules';
export { JobStepAccess, RUN_JOB_EXECUTOR_ROLE, type JobStepAccessProps } from './constructs/job-step-access';
export { JobAlerts, type JobAlertsProps, type JobAlertTarget } from './constructs/job-alerts';
export { buildSeedManifest, serializeSeedManifest } from './constructs/build-manifest';
export { prebuiltSeederBundle, type SeederBundle } from './core/seeder-bundle';

// The spec.
export {
  parsePipelineSpec,
  loadSpecFile,
  loadSpecs,
  findSpecFiles,
  type LoadOptions,
  type LoadSpecsOptions,
  type SpecSourceInfo,
} from './spec/load';
export { pipelineProblems, type ValidateOptions } from './spec/validate';
export { STEP_PRESETS, STEP_PRESET_NAMES, type StepPresetValues } from './spec/presets';
export { PIPELINE_SCHEMA, pipelineSchemaJson } from './spec/schema';
export type {
  PipelineSpec,
  StepSpec,
  StepTarget,
  StepRateLimits,
  StepRetry,
  StepPreset,
  TargetAuth,
  CloudRunService,
  CloudRunJobTarget,
  VertexAITarget,
  VertexCustomJobSpec,
  SeedTaskSpec,
  GcsBackend,
  PolicySuppression,
  MonitoringSpec,
  AlertSettings,
} from './spec/types';
export { SpecError } from './spec/errors';
// The one problem type every check reports, and its formatter.
export {
  ProblemError,
  formatProblem,
  formatProblems,
  formatPath,
  type Problem,
  type FieldPath,
  type PathSegment,
} from './core/problem';

// Names and the seed-manifest contract, shared by the stack, the seeder and workers.
export {
  MANAGED_BY,
  stackNameFor,
  queueIdFor,
  queueNameFor,
  invokerEmailFor,
  serviceAccountMember,
  taskIdFor,
} from './core/naming';
export { MANIFEST_VERSION, type SeedManifest, type ManifestTask, type ManifestHttpRequest } from './core/manifest';

// The policy pack.
export {
  PolicyPack,
  POLICY_CONTEXT_KEY,
  MIN_SUPPRESSION_REASON_LENGTH,
  POLICY_SUPPRESSION_METADATA,
  suppressPolicyRule,
  policyReports,
  assertPolicy,
  enforcePolicy,
  formatFinding,
  policyRule,
  ALL_RULES,
  PolicyError,
  type PolicyPackProps,
  type PolicyFinding,
  type PolicyReport,
  type PolicyRule,
  type PolicyRuleDefinition,
  type PolicySubject,
  type PolicyLevel,
  type PolicyResult,
  type PolicyConfig,
} from './policy';

// The synth API.
export { synthPipelines, formatStackLine, type SynthOptions, type WrittenStack } from './apps/synth';
