#!/usr/bin/env -S npx tsx
/** `npm run local [-- --spec <file>] [--report <file>] [--timeout 10m] ...`: see lib/local/cli.ts. */
import { runMain } from '../lib/local/cli';

runMain(process.argv);
