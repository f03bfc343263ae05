#!/usr/bin/env -S npx tsx
/** `npm run local [-- --spec <file>] [--report <file>] [--timeout 10m] ...`: see lib/apps/local/cli.ts. */
import { runMain } from '../lib/apps/local/cli';

runMain(process.argv);
