#!/usr/bin/env -S npx tsx
/** `npm run runs -- list | show <runId> | start | retry <runId> | cancel <runId>`: see lib/apps/runs/cli.ts. */
import { runMain } from '../lib/apps/runs/cli';

runMain(process.argv);
