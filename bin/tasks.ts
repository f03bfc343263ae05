#!/usr/bin/env -S npx tsx
/** `npm run tasks -- list [--queue <id>] [--emulator host:port] [--show-body]`: see lib/emulator/tasks-cli.ts. */
import { runMain } from '../lib/emulator/tasks-cli';

runMain(process.argv);
