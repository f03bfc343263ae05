#!/usr/bin/env -S npx tsx
/** `npm run seed -- <manifest> [--dry-run] [--concurrency N]`: the seeder from the repo (same code as the bundle). */
import { runMain } from '../lib/seeder/cli';

runMain(process.argv);
