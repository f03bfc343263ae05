#!/usr/bin/env -S npx tsx
/** `npm run tasks -- list [--queue <id>] [--emulator host:port | --rest [url]] [--show-body]`: see lib/apps/tasks/cli.ts. */
import { runMain } from '../lib/apps/tasks/cli';

runMain(process.argv);
