/**
 * `cloud-tasks-pipelines <command>`: the package's bin (bin/cloud-tasks-pipelines.ts). One commander program whose
 * subcommands are the project's CLIs, each run through its own `main`, so `npx cloud-tasks-pipelines local` in a
 * user's app and `npm run local` in this repository are the same code:
 *
 *   synth     lib/apps/synth.ts (runSynthCli)      local    lib/apps/local/cli.ts
 *   emulator  lib/apps/emulator/cli.ts             seed     lib/seeder/cli.ts
 *   tasks     lib/apps/tasks/cli.ts                review   lib/apps/review/cli.ts
 *   runs      lib/apps/runs/cli.ts
 *
 * Paths are relative to the working directory: `synth` reads `./pipelines/` and writes `./cdktf.out/`. Each CLI is
 * loaded only when its command runs, so `--help` and `synth` do not load gRPC or the emulator.
 */
import { Command, CommanderError, Help } from 'commander';
import { PACKAGE_NAME, packageVersion } from '../core/package';

/** Exit code of a command line that could not be parsed (as in every subcommand). */
const USAGE_EXIT_CODE = 2;

interface Subcommand {
  readonly name: string;
  /** Shown after the name in the command list, e.g. `<manifest>`. */
  readonly usage: string;
  readonly description: string;
  /** Runs the CLI with the arguments after the command name; sets the exit code or exits, as that CLI does. */
  readonly run: (args: readonly string[]) => void;
}

/** argv as the subcommands' commander programs read it (`from: 'node'`): node, script, then the arguments. */
const nodeArgv = (args: readonly string[]): string[] => [process.execPath, PACKAGE_NAME, ...args];

/** The CLIs that parse their own options: the arguments are handed over untouched, `--help` included. */
const PASS_THROUGH: readonly Subcommand[] = [
  {
    name: 'local',
    usage: '[options]',
    description:
      "run a pipeline on this machine: synthesize it, create its queues in the emulator, seed it and serve each step with the example worker (or the step's local.url); --ui serves the dashboard",
    run: (args) => (require('./local/cli') as typeof import('./local/cli')).runMain(nodeArgv(args)),
  },
  {
    name: 'emulator',
    usage: '[options]',
    description:
      'the local Cloud Tasks emulator (v2 gRPC API, HTTP dispatch, OIDC tokens) on 127.0.0.1; --ui serves the dashboard',
    run: (args) => (require('./emulator/cli') as typeof import('./emulator/cli')).runMain(nodeArgv(args)),
  },
  {
    name: 'seed',
    usage: '[options] <manifest>',
    description:
      'create the tasks of a seed manifest in Cloud Tasks, or in the emulator with CLOUD_TASKS_EMULATOR_HOST (idempotent)',
    run: (args) => (require('../seeder/cli') as typeof import('../seeder/cli')).runMain(nodeArgv(args)),
  },
  {
    name: 'tasks',
    usage: 'list [options]',
    description: "list the emulator's queues and tasks",
    run: (args) => (require('./tasks/cli') as typeof import('./tasks/cli')).runMain(nodeArgv(args)),
  },
  {
    name: 'runs',
    usage: '<list|show|start|retry|cancel> [options]',
    description:
      "see and steer pipeline runs in the run ledger: list, show <runId> (the run's story), start, retry <runId>, cancel <runId>",
    run: (args) => (require('./runs/cli') as typeof import('./runs/cli')).runMain(nodeArgv(args)),
  },
  {
    name: 'review',
    usage: '[options] <base> <head>',
    description: 'Markdown (or JSON) review of what a change does to the synthesized stacks: two cdktf.out folders',
    run: (args) => {
      const { main } = require('./review/cli') as typeof import('./review/cli');
      main(args).then(
        (code) => {
          process.exitCode = code;
        },
        (e: unknown) => {
          process.stderr.write(`review: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
          process.exitCode = 1;
        },
      );
    },
  },
];

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  /** Sets the exit code of a command that does not end the process itself. */
  readonly exit: (code: number) => void;
}

const processIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
  exit: (code) => {
    process.exitCode = code;
  },
};

/** The top-level program; `synth` is defined here, the other commands hand their arguments to their own CLI. */
export function cliProgram(io: CliIo = processIo): Command {
  const usageOf = new Map(PASS_THROUGH.map((sub) => [sub.name, sub.usage]));
  const program = new Command(PACKAGE_NAME)
    .description(
      'AI pipelines on Google Cloud Tasks with CDK for Terraform: synthesize pipeline specs to Terraform JSON, run them locally against the Cloud Tasks emulator, seed tasks, review changes.',
    )
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for the command')
    .helpCommand(false)
    // Options after a command name belong to that command (`local --version` is not the bin's --version).
    .enablePositionalOptions()
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    // The command list shows each CLI's own arguments, not the pass-through `[arguments...]`.
    .configureHelp({ subcommandTerm: (cmd) => `${cmd.name()} ${usageOf.get(cmd.name()) ?? cmd.usage()}` })
    .addHelpText(
      'after',
      `\nRun \`${PACKAGE_NAME} <command> --help\` for the options of a command.\nPaths are relative to the working directory: synth reads ./pipelines/ and writes ./cdktf.out/.`,
    );

  program
    .command('synth')
    .description('validate every pipeline spec in pipelines/ and write one cdktf stack per spec to cdktf.out/stacks/')
    .option('--spec <file>', 'synthesize this one spec file (default: PIPELINE_SPEC, else every spec in --dir)')
    .option('--dir <dir>', 'folder of pipeline specs (*.yaml, *.yml, *.json)', 'pipelines')
    .option('--outdir <dir>', 'output folder (default: CDKTF_OUTDIR, else cdktf.out)')
    .addHelpText(
      'after',
      '\nAn invalid spec exits 1 with every problem listed (file:line:column, field, value, rule) and writes nothing.',
    )
    .action((opts: { spec?: string; dir: string; outdir?: string }) => {
      const { runSynthCli } = require('./synth') as typeof import('./synth');
      const code = runSynthCli(
        io.env,
        (line) => io.stdout(`${line}\n`),
        (text) => io.stderr(`${text}\n`),
        { specPath: opts.spec, dir: opts.dir, outdir: opts.outdir },
      );
      io.exit(code);
    });

  for (const sub of PASS_THROUGH)
    program
      .command(sub.name)
      .usage(sub.usage)
      .description(sub.description)
      // Everything after the name, options and --help included, belongs to the subcommand's own parser.
      .helpOption(false)
      .passThroughOptions()
      .allowUnknownOption()
      .allowExcessArguments()
      .argument('[arguments...]')
      .action((args: string[]) => sub.run(args));
  return program;
}

/** Programs built by cliProgram: the usage lines of every other program get the bin's name in front. */
const topLevel = new WeakSet<Command>();
let usagePrefixed = false;

/**
 * The subcommands' programs are built by their own modules, named after the command (`local`, `seed`); through this
 * bin their usage line reads `cloud-tasks-pipelines local [options]`, which is what the user types.
 */
function prefixSubcommandUsage(program: Command): void {
  topLevel.add(program);
  if (usagePrefixed) return;
  usagePrefixed = true;
  const commandUsage = Help.prototype.commandUsage;
  Help.prototype.commandUsage = function (this: Help, cmd: Command): string {
    let root = cmd;
    while (root.parent) root = root.parent;
    const usage = commandUsage.call(this, cmd);
    return topLevel.has(root) ? usage : `${PACKAGE_NAME} ${usage}`;
  };
}

/** Runs the bin with process.argv; exits 2 on a command line it cannot parse. */
export function runCli(argv: readonly string[] = process.argv, io: CliIo = processIo): void {
  const program = cliProgram(io);
  prefixSubcommandUsage(program);
  try {
    program.parse(argv as string[], { from: 'node' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    io.exit(err.exitCode === 0 ? 0 : USAGE_EXIT_CODE);
  }
}
