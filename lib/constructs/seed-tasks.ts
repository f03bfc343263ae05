/**
 * SeedTasks: creates a pipeline's first tasks at deploy time. Terraform has no Cloud Tasks task resource, so ONE
 * `terraform_data` resource per pipeline runs the project's seeder once, through a `local-exec` provisioner, after
 * the queues, the invoker account and every IAM binding exist.
 *
 * What ships: the seed manifest (complete HTTP requests, lib/core/manifest.ts) and the bundled seeder
 * (`seeder.cjs`), both as TerraformAssets, so `cdktf.out/stacks/<stack>/assets/` holds everything the provisioner
 * runs and the stack directory can be copied and deployed elsewhere.
 *
 * Security: the provisioner runs `node <seeder> <manifest>` with an `interpreter` list, so no shell parses anything;
 * both arguments are asset paths that cdktf builds from construct ids and content hashes. Payloads live only in the
 * manifest file: never in the command, the environment, or the resource's attributes (which Terraform prints in
 * plans and keeps in state). See docs/decisions/seeding-resource.md.
 */
import { lstatSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Construct } from 'constructs';
import { AssetType, Lazy, TerraformAsset, type ITerraformDependable } from '../cdktf/core';
import { serializeSeedManifest, sha256Hex } from './build-manifest';
import type { SeederBundle } from '../core/seeder-bundle';
import type { SeedManifest } from '../core/manifest';
import type { TaskQueue } from './task-queue';
import { keepStringsLiteral } from './literal-strings';
import { TerraformData } from './terraform-data';

/** File name of the manifest inside its asset folder (the seeder bundle keeps its own, `seeder.cjs`). */
export const MANIFEST_FILE_NAME = 'seed-manifest.json';

/** A self-contained seeder script, run as `node <path> <manifest.json>` (lib/core/seeder-bundle.ts). */
export type { SeederBundle };

export interface SeedTasksProps {
  /** The tasks to create; must hold at least one (a pipeline without seed tasks gets no SeedTasks). */
  readonly manifest: SeedManifest;
  /** The bundled seeder that the provisioner runs. */
  readonly seeder: SeederBundle;
  /**
   * Queues the tasks go into. Their ids are in `triggers_replace`: a re-created queue has lost its tasks, so the
   * seeder runs again.
   */
  readonly queues: readonly TaskQueue[];
  /**
   * Everything that must exist before a task can be created and dispatched (queues, the invoker account, IAM
   * bindings, the Cloud Tasks API service).
   * @default - only the queues
   */
  readonly dependsOn?: ITerraformDependable[];
  /**
   * Folder where the manifest is staged before cdktf copies it into the stack's `assets/`. Files are named by
   * content hash, so concurrent synths never overwrite each other's manifest.
   * @default - `<os.tmpdir()>/cloud-tasks-pipelines-<uid>/seed-manifests`, private to the user (mode 0700)
   */
  readonly stagingDir?: string;
}

export class SeedTasks extends Construct {
  public readonly resource: TerraformData;
  public readonly manifestAsset: TerraformAsset;
  public readonly seederAsset: TerraformAsset;
  /** sha256 of the manifest file's exact bytes. */
  public readonly manifestSha256: string;
  public readonly seederSha256: string;
  public readonly taskCount: number;

  constructor(scope: Construct, id: string, props: SeedTasksProps) {
    super(scope, id);
    if (props.manifest.tasks.length === 0)
      throw new Error(
        `SeedTasks at ${this.node.path}: the manifest has no tasks; add SeedTasks only to a pipeline with seedTasks`,
      );
    keepStringsLiteral(this);

    const text = serializeSeedManifest(props.manifest);
    this.manifestSha256 = sha256Hex(text);
    this.seederSha256 = props.seeder.sha256;
    this.taskCount = props.manifest.tasks.length;

    const staged = stageManifest(props.stagingDir ?? defaultStagingDir(), this.manifestSha256, text);
    this.manifestAsset = new TerraformAsset(this, 'Manifest', {
      path: staged,
      type: AssetType.FILE,
      assetHash: this.manifestSha256,
    });
    this.seederAsset = new TerraformAsset(this, 'Seeder', {
      path: props.seeder.path,
      type: AssetType.FILE,
      assetHash: props.seeder.sha256,
    });

    const queueResources = props.queues.map((q) => q.resource);
    this.resource = new TerraformData(this, 'Resource', {
      // Not the seeder's hash: upgrading this project must not re-dispatch seed tasks that ran long ago (Cloud Tasks
      // forgets task names after about an hour). A failed seeding taints the resource, so the next apply retries.
      triggersReplace: {
        manifest_sha256: this.manifestSha256,
        queue_ids: queueResources.map((q) => q.id),
      },
      dependsOn: props.dependsOn ?? queueResources,
      provisioners: [
        {
          type: 'local-exec',
          // exec(node, seeder, manifest) without a shell: nothing here is user data, nothing is parsed by a shell.
          interpreter: ['node', this.seederAsset.path],
          command: this.manifestAsset.path,
          // Asset paths are relative to the stack directory, which is the module directory. A token, so that it stays
          // a live expression while every literal string is escaped (./literal-strings.ts).
          workingDir: Lazy.stringValue({ produce: () => '${path.module}' }),
        },
      ],
    });
  }
}

/**
 * A per-user folder under the temp directory. /tmp is shared: the folder is created 0700 and refused if another user
 * owns it, so nobody else can swap a manifest between staging and cdktf's copy into the stack.
 */
function defaultStagingDir(): string {
  const uid = process.getuid?.();
  const root = join(tmpdir(), `cloud-tasks-pipelines-${uid ?? 'user'}`);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const st = lstatSync(root);
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0)
    throw new Error(`${root} is not a private directory of this user; remove it or pass SeedTasks' stagingDir`);
  return join(root, 'seed-manifests');
}

/**
 * Writes `<dir>/<sha256>/seed-manifest.json` unless the same bytes are already there (write to a temp name, then
 * rename: a concurrent reader never sees half a file).
 */
function stageManifest(dir: string, sha256: string, text: string): string {
  const folder = join(dir, sha256);
  const file = join(folder, MANIFEST_FILE_NAME);
  let current: string | undefined;
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    current = undefined;
  }
  if (current !== text) {
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    const tmp = join(folder, `.${MANIFEST_FILE_NAME}.${process.pid}.tmp`);
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, file);
  }
  return file;
}
