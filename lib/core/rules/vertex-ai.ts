/**
 * The Vertex AI custom training rules a `vertexAI` step must respect, each with its source: the one place they live.
 * The spec rules (lib/spec/rules/job-target.ts), the request builder (lib/core/job-requests.ts), stall detection and
 * the local stand-in call these. Machine and accelerator fields get shape checks only: the catalogue (which machine
 * takes which GPU in which region) changes often, and the service validates it on `customJobs.create`.
 *
 * Sources: Vertex AI REST v1 reference (`projects.locations.customJobs.create`, `CustomJobSpec`, `WorkerPoolSpec`,
 * `MachineSpec`, `ContainerSpec`, `Scheduling`), "Distributed training"
 * (https://cloud.google.com/vertex-ai/docs/training/distributed-training), "Configure compute resources for custom
 * training" (https://cloud.google.com/vertex-ai/docs/training/configure-compute), "Vertex AI access control with IAM"
 * (https://cloud.google.com/vertex-ai/docs/general/access-control), and execve(2) for the environment of a process.
 */
import { formatValue, type FieldPath, type Problem } from '../problem';

export const VERTEX_AI_LIMITS = {
  /** `https://{region}-aiplatform.googleapis.com/v1/{parent}/customJobs` (REST `customJobs.create`). */
  apiHostSuffix: '-aiplatform.googleapis.com',
  /** Machine types such as n1-standard-8, a2-highgpu-1g, g2-standard-12, a3-highgpu-8g, ct5lp-hightpu-4t. */
  machineTypePattern: /^[a-z][a-z0-9]*(?:-[a-z0-9]+)+$/,
  /** `MachineSpec.acceleratorType` values (enum AcceleratorType): NVIDIA_TESLA_T4, NVIDIA_L4, TPU_V5_LITEPOD, ... */
  acceleratorTypePattern: /^(?:NVIDIA|TPU)_[A-Z0-9_]+$/,
  /** Container images are registry paths (us-docker.pkg.dev/p/repo/image:tag, gcr.io/p/image@sha256:...). */
  imageUriPattern: /^[a-z0-9.-]+(?::\d+)?\/[^\s]+$/,
  /** `Scheduling.timeout`: "The maximum job running time. The default is 7 days." */
  defaultTimeoutSeconds: 7 * 24 * 3600,
  /** `ContainerSpec.env`: "Environment variables to be passed to the container. Maximum limit is 100." */
  maxEnvVars: 100,
  /**
   * Vertex documents no limit for one variable's value; the container's process gets it through execve, which refuses
   * any single environment string (`NAME=value`) over MAX_ARG_STRLEN, 32 pages = 131,072 bytes (execve(2), Linux).
   */
  maxEnvValueBytes: 131_072,
  /** `CustomJob.displayName`: "can be up to 128 UTF-8 characters". */
  maxDisplayNameLength: 128,
  /** `CustomJob.labels`: keys and values "no longer than 64 characters", lower-case letters, digits, _ and -. */
  maxLabelLength: 64,
  /**
   * "Distributed training": the first worker pool is the primary replica and must have replicaCount 1; further
   * replicas of the same machine go to the second pool (workers).
   */
  primaryPoolReplicas: 1,
  /** The IAM permission `customJobs.create` checks. Custom jobs have no resource-level IAM: it is granted on the project. */
  createPermission: 'aiplatform.customJobs.create',
} as const;

const fmt = (n: number): string => n.toLocaleString('en-US');

export function vertexEndpointHost(region: string): string {
  return `${region}${VERTEX_AI_LIMITS.apiHostSuffix}`;
}

export function machineTypeProblems(machineType: string, at: FieldPath = ['machineType']): Problem[] {
  if (VERTEX_AI_LIMITS.machineTypePattern.test(machineType)) return [];
  return [
    {
      path: at,
      value: machineType,
      message: `${formatValue(machineType)} is not a Vertex AI machine type: use a Compute Engine machine type name such as n1-standard-8, a2-highgpu-1g or g2-standard-12`,
    },
  ];
}

/** acceleratorType and acceleratorCount come together; the count is a positive whole number. */
export function acceleratorProblems(
  acceleratorType: string | undefined,
  acceleratorCount: number | undefined,
  at: FieldPath = [],
): Problem[] {
  const out: Problem[] = [];
  if (acceleratorType !== undefined && !VERTEX_AI_LIMITS.acceleratorTypePattern.test(acceleratorType))
    out.push({
      path: [...at, 'acceleratorType'],
      value: acceleratorType,
      message: `${formatValue(acceleratorType)} is not a Vertex AI accelerator type: use the API's enum name, e.g. NVIDIA_TESLA_T4, NVIDIA_L4, NVIDIA_TESLA_A100, NVIDIA_H100_80GB or TPU_V5_LITEPOD`,
    });
  if (acceleratorCount !== undefined && (!Number.isInteger(acceleratorCount) || acceleratorCount < 1))
    out.push({
      path: [...at, 'acceleratorCount'],
      value: acceleratorCount,
      message: `${acceleratorCount} is not an accelerator count: use a whole number of at least 1 (1, 2, 4 or 8 for most GPUs)`,
    });
  if (acceleratorType !== undefined && acceleratorCount === undefined)
    out.push({
      path: [...at, 'acceleratorCount'],
      value: undefined,
      message: `is required with acceleratorType ${acceleratorType}: how many per replica (e.g. 1)`,
    });
  if (acceleratorCount !== undefined && acceleratorType === undefined)
    out.push({
      path: [...at, 'acceleratorType'],
      value: undefined,
      message: `is required with acceleratorCount ${acceleratorCount}: which accelerator (e.g. NVIDIA_TESLA_T4)`,
    });
  return out;
}

export function replicaCountProblems(replicaCount: number, at: FieldPath = ['replicaCount']): Problem[] {
  if (Number.isInteger(replicaCount) && replicaCount >= 1) return [];
  return [
    {
      path: at,
      value: replicaCount,
      message: `${replicaCount} is not a replica count: use a whole number of at least 1 (1 primary replica, the rest workers)`,
    },
  ];
}

export function imageUriProblems(imageUri: string, at: FieldPath = ['imageUri']): Problem[] {
  if (VERTEX_AI_LIMITS.imageUriPattern.test(imageUri)) return [];
  return [
    {
      path: at,
      value: imageUri,
      message: `${formatValue(imageUri)} is not a container image: use a registry path without a scheme, e.g. us-docker.pkg.dev/my-project/training/train:1.4`,
    },
  ];
}

export function vertexTimeoutProblems(seconds: number, at: FieldPath = ['timeout']): Problem[] {
  if (Number.isInteger(seconds) && seconds >= 1) return [];
  return [{ path: at, value: seconds, message: `${seconds}s is not a job timeout: use at least 1s` }];
}

/** PIPELINE_MESSAGE through `containerSpec.env`: at most MAX_ARG_STRLEN with its name. */
export function vertexEnvValueProblems(name: string, value: string, at: FieldPath): Problem[] {
  const bytes = Buffer.byteLength(name) + 1 + Buffer.byteLength(value);
  if (bytes <= VERTEX_AI_LIMITS.maxEnvValueBytes) return [];
  return [
    {
      path: at,
      value: `${fmt(bytes)} bytes`,
      message: `makes ${name} ${fmt(bytes)} bytes; a process's environment string holds at most ${fmt(VERTEX_AI_LIMITS.maxEnvValueBytes)} bytes (Linux execve). Put the data in Cloud Storage and pass its URI (e.g. { "dataset": "gs://bucket/path/" }) instead`,
    },
  ];
}

/**
 * A Vertex label value from any text: lower-case letters, digits, `_` and `-`, at most 64 characters (a longer or
 * changed value ends in a hash of the original, so two run ids never share a label).
 */
export function vertexLabelValue(text: string, hash: (s: string) => string): string {
  const clean = text.toLowerCase().replace(/[^a-z0-9_-]/g, '-');
  if (clean === text && clean.length <= VERTEX_AI_LIMITS.maxLabelLength) return clean;
  const suffix = hash(text).slice(0, 8);
  return `${clean.slice(0, VERTEX_AI_LIMITS.maxLabelLength - 9)}-${suffix}`;
}
