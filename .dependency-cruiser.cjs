// The layer rules (docs/decisions/layers.md), checked by `npm run check:layers` and by __tests__/layers.test.ts.
// Layers point one way: core <- spec <- policy <- constructs; seeder, worker, emulator <- core; apps on top; cdktf and
// the Google provider only through lib/cdktf/. Paths are relative to the folder depcruise runs in (the repo root).

/** Every layer of lib/ that is not `apps`, as a path prefix. */
const LAYER = (name) => `^lib/${name}/`;
// Anywhere a node_modules folder resolves to (a linked node_modules resolves outside the tree).
const NPM_CDKTF = '(^|/)node_modules/(cdktf|@cdktf/provider-google)/';
const NPM_CONSTRUCTS = '(^|/)node_modules/constructs/';

/** A rule: files under `from` may not import files under any of `to`. */
const forbid = (name, comment, from, to, extra = {}) => ({
  name,
  comment,
  severity: 'error',
  from: { path: from, ...(extra.fromNot ? { pathNot: extra.fromNot } : {}) },
  to: { path: to, ...(extra.toNot ? { pathNot: extra.toNot } : {}) },
});

/** The package root: a barrel over every public layer (constructs, spec, policy, the synth API), so it sits on top. */
const PACKAGE_ROOT = '^lib/index\\.ts$';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A cycle makes two modules one: neither can be read, tested or moved without the other.',
      severity: 'error',
      from: { path: '^(lib|bin)/' },
      to: { circular: true },
    },
    forbid(
      'core-imports-only-core',
      'lib/core is the bottom layer (rules, naming, contracts, the problem type): it imports no other layer.',
      LAYER('core'),
      '^lib/(?!core/)',
    ),
    forbid(
      'core-spec-seeder-worker-emulator-without-cdktf',
      'Only constructs, the policy pack and the apps build Terraform: the other layers load neither cdktf nor constructs.',
      '^lib/(core|spec|seeder|ledger|worker|emulator)/',
      [LAYER('cdktf'), NPM_CDKTF, NPM_CONSTRUCTS],
    ),
    forbid(
      'spec-imports-core',
      'lib/spec (what users write) builds on lib/core only.',
      LAYER('spec'),
      '^lib/(?!(spec|core)/)',
    ),
    forbid(
      'policy-imports-spec-core-cdktf',
      'The policy pack checks specs and Terraform: it imports spec, core and lib/cdktf, never the constructs that use it.',
      LAYER('policy'),
      '^lib/(?!(policy|spec|core|cdktf)/)',
    ),
    forbid(
      'constructs-import-policy-spec-core-cdktf',
      'Constructs turn a spec into Terraform (and apply the policy pack); they never import tools or runtimes.',
      LAYER('constructs'),
      '^lib/(?!(constructs|policy|spec|core|cdktf)/)',
    ),
    forbid(
      'runtimes-import-core',
      'The seeder and the emulator run outside synth (at deploy time, locally): core only.',
      '^lib/(seeder|emulator)/',
      '^lib/(?!(seeder|emulator|core)/)',
    ),
    forbid(
      'ledger-imports-core',
      'The run ledger (Firestore documents, the delivery protocol, readers and steering) builds on core only.',
      LAYER('ledger'),
      '^lib/(?!(ledger|core)/)',
    ),
    forbid(
      'worker-imports-ledger-core',
      "The worker SDK runs in the user's worker: the run ledger and core, nothing that synthesizes or emulates.",
      LAYER('worker'),
      '^lib/(?!(worker|ledger|core)/)',
    ),
    forbid(
      'runtimes-stay-apart',
      'The seeder, the worker SDK and the emulator do not import each other: each ships or runs on its own.',
      '^lib/seeder/',
      '^lib/(worker|emulator|ledger)/',
    ),
    forbid('worker-stays-apart', 'See runtimes-stay-apart.', '^lib/worker/', '^lib/(seeder|emulator)/'),
    forbid('emulator-stays-apart', 'See runtimes-stay-apart.', '^lib/emulator/', '^lib/(seeder|worker|ledger)/'),
    forbid(
      'nothing-below-imports-apps',
      'The applications (synth, local, review, the CLIs) sit on top: no library layer imports them.',
      '^lib/(?!apps/)',
      '^lib/apps/',
      { fromNot: PACKAGE_ROOT },
    ),
    forbid(
      'cdktf-only-through-lib-cdktf',
      'cdktf and @cdktf/provider-google are imported in lib/cdktf only (deep provider paths, one place to move to a fork).',
      '^(lib|bin)/',
      NPM_CDKTF,
      { fromNot: '^lib/cdktf/' },
    ),
    forbid(
      'lib-cdktf-is-a-leaf',
      'lib/cdktf re-exports cdktf and provider classes; it imports nothing of ours.',
      LAYER('cdktf'),
      '^lib/(?!cdktf/)',
    ),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // `import type` counts: a type-only import still ties one layer to another.
    tsPreCompilationDeps: true,
    // Node's own modules are not part of any layer.
    exclude: { path: '^node_modules/@types/' },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
