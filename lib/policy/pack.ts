/**
 * The policy pack: applied to each stack as an Aspect (cdktf 0.21 only applies aspects added to a stack, never those
 * added to the App), it evaluates every rule against the stack's pipeline spec and its synthesized Terraform blocks.
 *
 * How findings surface:
 * - errors become a node validation on the stack, which cdktf runs before it writes the stack (also under
 *   `cdktf synth`, which otherwise only collects error annotations and writes the stack anyway); lib/apps/synth.ts also
 *   calls `assertPolicy(app)` before `app.synth()` so a policy error writes nothing at all, for any stack;
 * - warnings become warning annotations (printed by `cdktf synth`) and are printed to stderr by `assertPolicy`;
 * - suppressed findings stay in the report (with their reason) and are not printed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { IConstruct } from 'constructs';
import { Annotations, Aspects, TerraformStack, type IAspect } from '../cdktf/core';
import type { PipelineSpec, PolicySuppression } from '../spec/types';
import { PolicyError } from './errors';
import { ALL_RULES } from './rules';
import {
  isRecord,
  type PolicyConfig,
  type PolicyLevel,
  type PolicyResult,
  type PolicyRule,
  type RuleCheck,
  type TerraformBlock,
} from './types';

/** cdktf.json `context` key for organisation-wide policy settings. */
export const POLICY_CONTEXT_KEY = 'cloudTasksPipelines:policy';

/** A suppression needs a reason a reviewer can judge. */
export const MIN_SUPPRESSION_REASON_LENGTH = 10;

export interface PolicyFinding {
  /** Rule id, or `policy` for a broken suppression. */
  readonly ruleId: string;
  readonly level: PolicyLevel;
  readonly result: PolicyResult;
  /** Where: the spec file (`pipelines/x.yaml`) for spec findings, the construct path for Terraform blocks. */
  readonly subject: string;
  /** Field path inside the subject (never a value). */
  readonly path?: string;
  readonly message?: string;
  /** Set when a suppression covers the finding. */
  readonly suppressedBecause?: string;
}

export interface PolicyReport {
  readonly stack: string;
  /** Every rule result, including COMPLIANT and NOT_APPLICABLE ones. */
  readonly findings: readonly PolicyFinding[];
  /** NON_COMPLIANT, not suppressed, level error (and broken suppressions). */
  readonly errors: readonly PolicyFinding[];
  /** NON_COMPLIANT, not suppressed, level warning. */
  readonly warnings: readonly PolicyFinding[];
}

export interface PolicyPackProps {
  /**
   * Rules to apply.
   * @default ALL_RULES (lib/policy/rules)
   */
  readonly rules?: readonly PolicyRule[];
  /**
   * Label keys every pipeline must carry, in addition to cdktf.json context `cloudTasksPipelines:policy` and the
   * spec's own `policy.requiredLabels`.
   * @default - none
   */
  readonly requiredLabels?: readonly string[];
  /**
   * Suppressions for every stack this pack is applied to, each with a reason of at least 10 characters.
   * @default - none
   */
  readonly suppressions?: readonly PolicySuppression[];
  /**
   * Organisation-wide settings. When undefined, read from the App's context key `cloudTasksPipelines:policy`, or
   * from `cdktf.json` in the working directory (plain `tsx main.ts` does not get cdktf.json context).
   * @default - from context / cdktf.json
   */
  readonly config?: Partial<PolicyConfig>;
  /**
   * The spec file named in spec findings (`pipelines/x.yaml: [CTP001] ...`).
   * @default - the stack's construct path
   */
  readonly source?: string;
}

/** What the pack needs from a PipelineStack, without importing it (the stack imports the pack). */
interface SpecStack {
  readonly spec: PipelineSpec;
  readonly queues?: Readonly<Record<string, { readonly resource?: IConstruct }>>;
}

function specOf(stack: TerraformStack): SpecStack | undefined {
  const s = stack as unknown as Partial<SpecStack>;
  return s.spec && isRecord(s.spec) && isRecord(s.spec.pipeline) ? (s as SpecStack) : undefined;
}

/** Construct-level suppressions added from TypeScript (`suppressPolicyRule`). */
const constructSuppressions = new WeakMap<IConstruct, PolicySuppression[]>();

/**
 * Suppresses `rule` for `scope` and everything below it (a stack, or one queue resource), like cdk-nag's
 * NagSuppressions. The reason is checked at synth: at least 10 characters, and the rule must exist.
 */
export function suppressPolicyRule(scope: IConstruct, rule: string, reason: string): void {
  const list = constructSuppressions.get(scope) ?? [];
  list.push({ rule, reason });
  constructSuppressions.set(scope, list);
}

export class PolicyPack implements IAspect {
  /** Adds a pack to `stack` (as an Aspect plus a validation) and returns it. */
  public static applyTo(stack: TerraformStack, props: PolicyPackProps = {}): PolicyPack {
    const pack = new PolicyPack(props);
    Aspects.of(stack).add(pack);
    pack.attach(stack);
    return pack;
  }

  /** The packs applied to a stack. */
  public static of(stack: TerraformStack): PolicyPack[] {
    return Aspects.of(stack).all.filter((a): a is PolicyPack => a instanceof PolicyPack);
  }

  public readonly rules: readonly PolicyRule[];
  private readonly props: PolicyPackProps;
  private readonly suppressions: PolicySuppression[];
  private readonly reports = new WeakMap<TerraformStack, PolicyReport>();
  private readonly attached = new WeakSet<TerraformStack>();

  constructor(props: PolicyPackProps = {}) {
    this.props = props;
    this.rules = props.rules ?? ALL_RULES;
    this.suppressions = [...(props.suppressions ?? [])];
  }

  /** Suppresses a rule for every stack this pack checks. */
  public suppress(rule: string, reason: string): this {
    this.suppressions.push({ rule, reason });
    return this;
  }

  public visit(node: IConstruct): void {
    if (!TerraformStack.isStack(node)) return;
    this.attach(node);
    const report = this.report(node);
    for (const w of report.warnings) Annotations.of(node).addWarning(formatFinding(w));
  }

  /** Evaluates the stack once; later calls return the same report. */
  public report(stack: TerraformStack): PolicyReport {
    let r = this.reports.get(stack);
    if (!r) {
      r = this.evaluate(stack);
      this.reports.set(stack, r);
    }
    return r;
  }

  private attach(stack: TerraformStack): void {
    if (this.attached.has(stack)) return;
    this.attached.add(stack);
    stack.node.addValidation({ validate: () => this.report(stack).errors.map(formatFinding) });
  }

  private evaluate(stack: TerraformStack): PolicyReport {
    const specStack = specOf(stack);
    const spec = specStack?.spec;
    const config = this.configFor(stack, spec);
    const specSubject = this.props.source ?? stack.node.path;
    const findings: PolicyFinding[] = [];
    const known = new Map(this.rules.map((r) => [r.id, r]));

    // Suppressions: from the spec, the pack, and constructs. Broken ones are errors of their own.
    const specSuppressions = spec?.policy?.suppress ?? [];
    specSuppressions.forEach((s, i) =>
      findings.push(...suppressionProblems(s, `policy.suppress[${i}]`, specSubject, known)),
    );
    this.suppressions.forEach((s, i) =>
      findings.push(...suppressionProblems(s, `PolicyPack suppressions[${i}]`, stack.node.path, known)),
    );
    const byPath = new Map(stack.node.findAll().map((c) => [c.node.path, c]));
    for (const c of byPath.values())
      (constructSuppressions.get(c) ?? []).forEach((s, i) =>
        findings.push(...suppressionProblems(s, `suppressPolicyRule(${c.node.path})[${i}]`, c.node.path, known)),
      );
    const stackWide = [...specSuppressions, ...this.suppressions];
    const suppressionFor = (ruleId: string, constructPath: string): string | undefined => {
      const s = stackWide.find((x) => x.rule === ruleId);
      if (s) return s.reason;
      for (let p: string | undefined = constructPath; p; p = parentPath(p)) {
        const c = byPath.get(p);
        const hit = c && constructSuppressions.get(c)?.find((x) => x.rule === ruleId);
        if (hit) return hit.reason;
        if (p === stack.node.path) break;
      }
      return undefined;
    };

    const record = (rule: PolicyRule, check: RuleCheck, subject: string, constructPath: string): void => {
      if (check.result !== 'NON_COMPLIANT') {
        findings.push({ ruleId: rule.id, level: rule.level, result: check.result, subject });
        return;
      }
      const reason = suppressionFor(rule.id, constructPath);
      for (const v of check.violations)
        findings.push({
          ruleId: rule.id,
          level: rule.level,
          result: 'NON_COMPLIANT',
          subject,
          path: v.path,
          message: v.message,
          suppressedBecause: reason,
        });
    };

    const blocks = terraformBlocks(stack);
    const covered = spec ? specCoveredPaths(specStack!, blocks) : new Set<string>();
    for (const rule of this.rules) {
      if (spec && rule.checkSpec) record(rule, rule.checkSpec({ spec, config }), specSubject, stack.node.path);
      if (rule.checkBlock)
        for (const block of blocks) {
          if (spec && rule.checkSpec && covered.has(block.constructPath)) continue;
          const check = rule.checkBlock({ block, config });
          // A rule is not applicable to most blocks (a queue rule to a service account): only results that say something are kept.
          if (check.result !== 'NOT_APPLICABLE') record(rule, check, block.constructPath, block.constructPath);
        }
    }
    const active = findings.filter((f) => f.result === 'NON_COMPLIANT' && f.suppressedBecause === undefined);
    return {
      stack: stack.node.path,
      findings,
      errors: active.filter((f) => f.level === 'error'),
      warnings: active.filter((f) => f.level === 'warning'),
    };
  }

  private configFor(stack: TerraformStack, spec: PipelineSpec | undefined): PolicyConfig {
    const org = this.props.config ?? orgPolicyConfig(stack);
    const fromSpec = spec?.policy?.requiredLabels ?? [];
    const requiredLabels = [
      ...new Set([...(org.requiredLabels ?? []), ...(this.props.requiredLabels ?? []), ...fromSpec]),
    ];
    return { requiredLabels };
  }
}

function parentPath(p: string): string | undefined {
  const i = p.lastIndexOf('/');
  return i > 0 ? p.slice(0, i) : undefined;
}

function suppressionProblems(
  s: PolicySuppression,
  where: string,
  subject: string,
  known: Map<string, PolicyRule>,
): PolicyFinding[] {
  const out: PolicyFinding[] = [];
  const bad = (path: string, message: string): void =>
    void out.push({ ruleId: 'policy', level: 'error', result: 'NON_COMPLIANT', subject, path, message });
  if (!known.has(s.rule)) {
    const list = [...known.values()].map((r) => `${r.id} (${r.name})`).join(', ');
    bad(`${where}.rule`, `"${s.rule}" is not a rule of this policy pack; known rules: ${list}`);
  }
  const reason = typeof s.reason === 'string' ? s.reason.trim() : '';
  if (reason.length < MIN_SUPPRESSION_REASON_LENGTH)
    bad(
      `${where}.reason`,
      `${JSON.stringify(reason)} is ${reason.length} characters; a suppression needs a reason of at least ${MIN_SUPPRESSION_REASON_LENGTH} characters saying why the rule does not apply`,
    );
  return out;
}

/** Construct paths of the blocks a PipelineStack generated from its spec (its queues and its providers). */
function specCoveredPaths(specStack: SpecStack, blocks: readonly TerraformBlock[]): Set<string> {
  const out = new Set<string>();
  for (const q of Object.values(specStack.queues ?? {})) if (q.resource) out.add(q.resource.node.path);
  for (const b of blocks) if (b.kind === 'provider') out.add(b.constructPath);
  return out;
}

/** The stack's resources and providers as resolved Terraform JSON (the same JSON cdk.tf.json will hold). */
export function terraformBlocks(stack: TerraformStack): TerraformBlock[] {
  const tf = stack.toTerraform() as Record<string, unknown>;
  const out: TerraformBlock[] = [];
  const meta = (v: Record<string, unknown>): string => {
    const m = isRecord(v['//']) && isRecord(v['//'].metadata) ? v['//'].metadata : {};
    return typeof m.path === 'string' ? m.path : stack.node.path;
  };
  for (const [type, byName] of Object.entries(isRecord(tf.resource) ? tf.resource : {}))
    for (const [name, config] of Object.entries(isRecord(byName) ? byName : {}))
      if (isRecord(config))
        out.push({ kind: 'resource', type, address: `${type}.${name}`, constructPath: meta(config), config });
  for (const [name, configs] of Object.entries(isRecord(tf.provider) ? tf.provider : {}))
    for (const config of Array.isArray(configs) ? configs : [configs])
      if (isRecord(config))
        out.push({
          kind: 'provider',
          type: name,
          address: typeof config.alias === 'string' ? `provider.${name}.${config.alias}` : `provider.${name}`,
          constructPath: providerPath(stack, name, config),
          config,
        });
  return out;
}

/** Providers carry no `//` path metadata: find the provider construct by its Terraform name. */
function providerPath(stack: TerraformStack, name: string, config: Record<string, unknown>): string {
  const p = stack.node
    .findAll()
    .find(
      (c) =>
        (c as unknown as { terraformResourceType?: string; alias?: string }).terraformResourceType === name &&
        ((c as unknown as { alias?: string }).alias ?? undefined) === (config.alias ?? undefined),
    );
  return p?.node.path ?? `${stack.node.path}/provider.${name}`;
}

/** Organisation-wide settings: the App's context (set by `cdktf synth` from cdktf.json), else cdktf.json itself. */
export function orgPolicyConfig(scope: IConstruct, cwd = process.cwd()): Partial<PolicyConfig> {
  const fromContext = scope.node.tryGetContext(POLICY_CONTEXT_KEY) as unknown;
  if (isRecord(fromContext)) return readConfig(fromContext, `context ${POLICY_CONTEXT_KEY}`);
  const file = path.join(cwd, 'cdktf.json');
  if (!fs.existsSync(file)) return {};
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: cannot read the policy settings (${(e as Error).message})`);
  }
  const ctx = isRecord(json) && isRecord(json.context) ? json.context[POLICY_CONTEXT_KEY] : undefined;
  return isRecord(ctx) ? readConfig(ctx, `cdktf.json context.${POLICY_CONTEXT_KEY}`) : {};
}

function readConfig(raw: Record<string, unknown>, where: string): Partial<PolicyConfig> {
  const labels = raw.requiredLabels;
  if (labels === undefined) return {};
  if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string' && l.length > 0))
    throw new Error(`${where}.requiredLabels: must be a list of label keys, e.g. ["team", "cost-center"]`);
  return { requiredLabels: labels };
}

/** `pipelines/x.yaml: [CTP001] pipeline.steps[0].target.auth: "none" sends tasks ...` */
export function formatFinding(f: PolicyFinding): string {
  const id = f.ruleId === 'policy' ? '[policy]' : `[${f.ruleId}]`;
  return `${f.subject}: ${id} ${f.path ? `${f.path}: ` : ''}${f.message ?? f.result}`;
}

/** Reports of every stack under `scope` that has a PolicyPack. */
export function policyReports(scope: IConstruct): PolicyReport[] {
  const stacks = scope.node.findAll().filter((c): c is TerraformStack => TerraformStack.isStack(c));
  return stacks.flatMap((s) => PolicyPack.of(s).map((p) => p.report(s)));
}

/**
 * Warnings to stderr, except under `cdktf synth`: the CLI (which sets CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS for
 * the app it runs) prints the warning annotations itself, and shows the app's stderr as error-level log lines.
 */
function defaultWarn(line: string): void {
  if (process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS === undefined) process.stderr.write(`${line}\n`);
}

/**
 * Runs every stack's policy before synth: writes one `warning: ...` line per warning (default stderr) and throws
 * PolicyError listing the errors. lib/apps/synth.ts calls it before `app.synth()`, so a policy error writes nothing.
 */
export function assertPolicy(scope: IConstruct, warn: (line: string) => void = defaultWarn): void {
  const reports = policyReports(scope);
  for (const r of reports) for (const w of r.warnings) warn(`warning: ${formatFinding(w)}`);
  const errors = reports.flatMap((r) => r.errors);
  if (errors.length) throw new PolicyError(errors.map(formatFinding));
}

/** assertPolicy for callers that prefer a result: prints warnings and errors to `write`, returns false on errors. */
export function enforcePolicy(
  scope: IConstruct,
  write: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): boolean {
  try {
    assertPolicy(scope, write);
    return true;
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    for (const line of e.lines) write(`error: ${line}`);
    write(`policy: ${e.lines.length} error${e.lines.length > 1 ? 's' : ''}; nothing was synthesized (docs/policy.md)`);
    return false;
  }
}
