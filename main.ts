/**
 * The repository's cdktf app: `npm run synth` (node --require tsx/cjs main.ts) and `npx cdktf synth` (cdktf.json
 * "app"). It is `cloud-tasks-pipelines synth` (lib/apps/cli.ts) run from the TypeScript sources, after rebuilding
 * the bundled seeder if lib/seeder, lib/core or the lock file changed since it was built (scripts/seeder-bundle.ts).
 * Not part of the package: an installed package ships its bundle, and its users run the bin.
 *
 * Reads PIPELINE_SPEC (one spec file) or every spec in pipelines/, validates all of them, then writes one stack per
 * spec to CDKTF_OUTDIR (default cdktf.out). An invalid spec exits 1 with every problem listed and nothing written.
 * `npm run synth -- --spec <file> --outdir <dir>` takes the bin's options.
 */
import { runCli } from './lib/apps/cli';
import { buildSeederBundle } from './scripts/seeder-bundle';

buildSeederBundle();
runCli([process.argv[0], process.argv[1], 'synth', ...process.argv.slice(2)]);
