#!/usr/bin/env node
/** `npm run review -- <base-cdktf.out> <head-cdktf.out> [--output review.md]`: see lib/apps/review/cli.ts and docs/review.md. */
import { main } from '../lib/apps/review/cli';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`review: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
