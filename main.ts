/**
 * The cdktf app entry point: `npm run synth` (tsx main.ts) and `npx cdktf synth` (cdktf.json "app").
 *
 * Reads PIPELINE_SPEC (one spec file) or every spec in pipelines/, validates all of them, then writes one stack per
 * spec to CDKTF_OUTDIR (default cdktf.out). An invalid spec exits 1 with every problem listed and nothing written.
 * The work is in lib/apps/synth.ts.
 */
import { runSynthCli } from './lib/apps/synth';

process.exitCode = runSynthCli(process.env);
