/**
 * `npm run build:seeder [-- --force]`: builds dist/seeder/seeder.cjs and its record (scripts/seeder-bundle.ts), unless
 * the inputs are unchanged, and prints where it is, its size, its sha256 and how long it took.
 */
import { relative } from 'node:path';
import { buildSeederBundle } from './seeder-bundle';

const started = process.hrtime.bigint();
const bundle = buildSeederBundle({ force: process.argv.includes('--force') });
const ms = Number(process.hrtime.bigint() - started) / 1e6;
process.stdout.write(
  `${relative(process.cwd(), bundle.path)}: ${(bundle.bytes / 1024 / 1024).toFixed(2)} MiB (${bundle.bytes.toLocaleString('en-US')} bytes), sha256 ${bundle.sha256}, ` +
    `${bundle.built ? `built in ${ms.toFixed(0)} ms` : `unchanged inputs (${bundle.inputHash}), not rebuilt (${ms.toFixed(0)} ms); --force rebuilds`}\n`,
);
