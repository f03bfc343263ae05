/**
 * `npm run review -- <base-cdktf.out> <head-cdktf.out> [--output file.md] [--format markdown|json]`
 *
 * Exit codes: 0 = review written (with or without changes), 2 = an input directory is missing, not a cdktf
 * output, or unreadable (the message says which and what to do).
 */
import * as fs from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { terminalSafe } from '../../core/text';
import { formatValue, renderReviewMarkdown } from './markdown';
import { resourceCounts, reviewSynthOutputs, seedCounts, stacksToDeploy, type Review } from './review';
import { emptySynthOutput, INPUT_ERROR_EXIT_CODE, readSynthOutput, ReviewInputError } from './synth-output';

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const processIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

/** Machine-readable form for workflows (which stacks to deploy). Values go through the same redaction as Markdown. */
export function reviewJson(review: Review): unknown {
  return {
    hasChanges: review.hasChanges,
    stacksToDeploy: stacksToDeploy(review),
    stacks: review.stacks.map((s) => ({
      name: s.name,
      status: s.status,
      environment: s.environment,
      backend: s.backend,
      resources: resourceCounts(s),
      seedTasks: seedCounts(s),
      changes: s.changes.map((c) => ({
        address: c.address,
        status: c.status,
        replacedBy: c.replacedBy,
        attributes:
          c.status === 'changed'
            ? c.attributes.map((a) => ({
                path: a.path,
                before: formatValue(a.before, a.redacted),
                after: formatValue(a.after, a.redacted),
              }))
            : undefined,
      })),
      seedTaskChanges: s.seedTasks.map((t) => ({
        step: t.step,
        seedId: t.seedId,
        status: t.status,
        changes: t.changes,
      })),
      assets: s.assets.map((a) => ({ id: a.id, status: a.status })),
    })),
  };
}

export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const program = new Command()
    .name('review')
    .description(
      'Review the changes between two synthesized cdktf outputs (base and head of a pull request), without credentials.',
    )
    .argument('<base>', 'cdktf output directory of the base revision (e.g. ../base/cdktf.out)')
    .argument('<head>', 'cdktf output directory of the head revision (e.g. cdktf.out)')
    .option('-o, --output <file>', 'write the review to this file instead of stdout')
    .addOption(new Option('--format <format>', 'output format').choices(['markdown', 'json']).default('markdown'))
    .option(
      '--allow-missing-base',
      'treat a missing base directory as empty (first pull request: every stack is added)',
    )
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  try {
    program.parse(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : INPUT_ERROR_EXIT_CODE;
    throw e;
  }
  const [baseDir, headDir] = program.args as [string, string];
  const opts = program.opts<{ output?: string; format: 'markdown' | 'json'; allowMissingBase?: boolean }>();
  try {
    const base =
      opts.allowMissingBase && !fs.existsSync(baseDir) ? emptySynthOutput(baseDir) : readSynthOutput(baseDir);
    const head = readSynthOutput(headDir);
    const review = reviewSynthOutputs(base, head);
    const text =
      opts.format === 'json' ? `${JSON.stringify(reviewJson(review), null, 2)}\n` : renderReviewMarkdown(review);
    if (opts.output) {
      fs.writeFileSync(opts.output, text);
      io.stderr(`review: wrote ${opts.output} (${review.hasChanges ? 'changes found' : 'no changes'})\n`);
    } else io.stdout(text);
    return 0;
  } catch (e) {
    if (e instanceof ReviewInputError) {
      io.stderr(`review: ${terminalSafe(e.message)}\n`);
      return e.exitCode;
    }
    throw e;
  }
}
