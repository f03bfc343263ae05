/**
 * `npm run build:seeder`: prebuilds the bundled seeder (synth builds it on first use anyway) and prints where it is,
 * its size and how long the build took.
 */
import { statSync } from 'node:fs';
import { relative } from 'node:path';
import { seederBundle } from '../lib/seeder/bundle';

const started = process.hrtime.bigint();
const bundle = seederBundle();
const ms = Number(process.hrtime.bigint() - started) / 1e6;
const size = statSync(bundle.path).size;
process.stdout.write(
  `${relative(process.cwd(), bundle.path)}: ${(size / 1024 / 1024).toFixed(2)} MiB (${size.toLocaleString('en-US')} bytes), sha256 ${bundle.sha256}, ${ms.toFixed(0)} ms (a cached build is reused)\n`,
);
