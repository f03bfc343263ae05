#!/usr/bin/env -S npx tsx
/** `npm run emulator -- --port <p> [--host 127.0.0.1] [--fail-rate 0..1] [--data-dir <dir>] [--stack <dir>]`: see lib/emulator/cli.ts. */
import { runMain } from '../lib/emulator/cli';

runMain(process.argv);
