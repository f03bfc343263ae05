#!/usr/bin/env node
/** The package's bin: `cloud-tasks-pipelines <synth|local|emulator|seed|tasks|review> ...` (lib/apps/cli.ts). */
import { runCli } from '../lib/apps/cli';

runCli(process.argv);
