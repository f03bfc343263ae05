#!/usr/bin/env -S npx tsx
/** `npm run emulator -- --port <p> [--rest-port <p>] [--fail-rate 0..1] [--duplicate-rate 0..1] [--data-dir <dir>] [--stack <dir>]`: see lib/apps/emulator/cli.ts. */
import { runMain } from '../lib/apps/emulator/cli';

runMain(process.argv);
