/**
 * Where this package is installed: the repository root in a clone, `node_modules/cloud-tasks-pipelines` in a user's
 * app. Files the package ships next to its code (the bundled seeder in `dist/seeder/`) are found from here, the same
 * way whether the code runs from the TypeScript sources (`lib/`) or compiled (`dist/lib/`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const PACKAGE_NAME = 'cloud-tasks-pipelines';

let root: string | undefined;
let version: string | undefined;

/** The folder holding this package's package.json (found by walking up from this file, once per process). */
export function packageRoot(): string {
  if (root !== undefined) return root;
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (!existsSync(manifest)) continue;
    const { name, version: found } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; version?: string };
    if (name === PACKAGE_NAME) {
      version = found;
      return (root = dir);
    }
  }
  throw new Error(`cannot find the package.json of ${PACKAGE_NAME} above ${__dirname}; reinstall the package`);
}

/** The package's version, from its package.json. */
export function packageVersion(): string {
  packageRoot();
  return version ?? '0.0.0';
}
