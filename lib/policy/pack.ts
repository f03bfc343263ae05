/**
 * The policy pack: applied to each stack as an Aspect (cdktf 0.21 only applies aspects added to a stack, never those
 * added to the App), it runs every rule against the stack's pipeline spec (when it has one) and its synthesized
 * Terraform blocks.
 *
 * How findings surface:
 * - errors become a node validation on the stack, which cdktf runs before it writes the stack (also under
 *   `cdktf synth`, which otherwise only collects error annotations and writes the stack anyway); lib/apps/synth.ts also
 *   calls `assertPolicy(app)` (./report.ts) before `app.synth()` so a policy error writes nothing at all, for any stack;
 * - warnings become warning annotations (printed by `cdktf synth`) and are printed to stderr by `assertPolicy`;
 * - suppressed findings stay in the report (with their reason) and are not printed; every suppression the stack has
 *   is written into its cdk.tf.json under `"//"` (see PolicyRecord below);
 * - a rule that throws is a finding of that rule (an error naming the exception), never a crash.
 */
import type { IConstruct } from 'constructs';
import type { RecordedSuppression } from '../core/synthesized-stack';
import { Annotations, Aspects, TerraformElement, TerraformStack, type IAspect } from '../cdktf/core';
import type { PipelineSpec, PolicySuppression } from '../spec/types';
import { mergedPolicyConfig, orgPolicyConfig } from './config';
import { formatFinding, type PolicyFinding, type PolicyReport } from './findings';
import { ALL_RULES } from './rules';
import { constructSuppressions, suppressionProblems, type SuppressionSite } from './suppressions';
import { terraformBlocks } from './terraform-blocks';
import type { PolicyConfig, PolicyRule, RuleCheck } from './types';

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
  /**
   * The pipeline spec the stack was built from (PipelineStack passes its own): rules check it in the user's words,
   * and its `policy` block adds suppressions and required labels. A pack given a spec belongs to that one stack.
   * @default - none: only the stack's Terraform blocks are checked
   */
  readonly spec?: PipelineSpec;
  /**
   * Constructs whose Terraform blocks the spec check already covers (PipelineStack: its provider and queue
   * resources), so each problem is reported once, in the spec's terms.
   * @default - none
   */
  readonly coveredBySpec?: readonly IConstruct[];
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

  /** Every suppression this pack applies to `stack`, with where it was written. */
  public suppressionsOf(stack: TerraformStack): Array<{ suppression: PolicySuppression; site: SuppressionSite }> {
    const specSubject = this.props.source ?? stack.node.path;
    const out: Array<{ suppression: PolicySuppression; site: SuppressionSite }> = [];
    (this.props.spec?.policy?.suppress ?? []).forEach((s, i) =>
      out.push({
        suppression: s,
        site: { source: 'spec', scope: stack.node.path, subject: specSubject, path: ['policy', 'suppress', i] },
      }),
    );
    this.suppressions.forEach((s, i) =>
      out.push({
        suppression: s,
        site: { source: 'pack', scope: stack.node.path, subject: stack.node.path, path: ['suppressions', i] },
      }),
    );
    for (const c of stack.node.findAll())
      constructSuppressions(c).forEach((s, i) =>
        out.push({
          suppression: s,
          site: { source: 'construct', scope: c.node.path, subject: c.node.path, path: ['suppressPolicyRule', i] },
        }),
      );
    return out;
  }

  private attach(stack: TerraformStack): void {
    if (this.attached.has(stack)) return;
    this.attached.add(stack);
    stack.node.addValidation({ validate: () => this.report(stack).errors.map(formatFinding) });
    if (!stack.node.tryFindChild(PolicyRecord.ID)) new PolicyRecord(stack);
  }

  private evaluate(stack: TerraformStack): PolicyReport {
    const spec = this.props.spec;
    const config = mergedPolicyConfig(
      this.props.config ?? orgPolicyConfig(stack),
      { requiredLabels: this.props.requiredLabels },
      { requiredLabels: spec?.policy?.requiredLabels },
    );
    const specSubject = this.props.source ?? stack.node.path;
    const known = new Map(this.rules.map((r) => [r.id, r]));
    const suppressions = this.suppressionsOf(stack);
    // Broken suppressions are errors of their own.
    const findings: PolicyFinding[] = suppressions.flatMap(({ suppression, site }) =>
      suppressionProblems(suppression, site, known),
    );
    const suppressionFor = (ruleId: string, constructPath: string): string | undefined =>
      suppressions.find(
        ({ suppression, site }) =>
          suppression.rule === ruleId && (constructPath === site.scope || constructPath.startsWith(`${site.scope}/`)),
      )?.suppression.reason;

    const record = (rule: PolicyRule, outcome: Outcome, subject: string, constructPath: string): void => {
      const { check } = outcome;
      // A rule that failed is an error whatever its level: the stack was not checked by it.
      const level = outcome.failed ? 'error' : rule.level;
      if (check.result !== 'NON_COMPLIANT') {
        findings.push({ ruleId: rule.id, level, result: check.result, subject });
        return;
      }
      const reason = suppressionFor(rule.id, constructPath);
      for (const v of check.violations)
        findings.push({
          ruleId: rule.id,
          level,
          result: 'NON_COMPLIANT',
          subject,
          path: v.path,
          message: v.message,
          suppressedBecause: reason,
        });
    };

    const blocks = terraformBlocks(stack);
    const covered = new Set((this.props.coveredBySpec ?? []).map((c) => c.node.path));
    for (const rule of this.rules) {
      if (spec)
        record(
          rule,
          safely(rule, () => rule.checkSpec({ spec, config })),
          specSubject,
          stack.node.path,
        );
      for (const block of blocks) {
        if (spec && covered.has(block.constructPath)) continue;
        const outcome = safely(rule, () => rule.checkBlock({ block, config }));
        // A rule is not applicable to most blocks (a queue rule to a service account): only results that say something are kept.
        if (outcome.check.result !== 'NOT_APPLICABLE') record(rule, outcome, block.constructPath, block.constructPath);
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
}

/** A rule's check, or its failure. */
interface Outcome {
  readonly check: RuleCheck;
  /** The rule threw; `check` holds one violation naming the exception. */
  readonly failed: boolean;
}

/**
 * A rule that throws is a bug in the rule, not in the stack: it becomes an error finding of that rule (suppressible
 * like any other, so a stack can still be synthesized while the rule is fixed), never a crash of the synth.
 */
function safely(rule: PolicyRule, check: () => RuleCheck): Outcome {
  try {
    return { check: check(), failed: false };
  } catch (e) {
    const why = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    return {
      failed: true,
      check: {
        result: 'NON_COMPLIANT',
        violations: [
          {
            path: [],
            message: `rule ${rule.id} (${rule.name}) failed with ${why}; it could not check this stack (report it, or suppress ${rule.id} with a reason)`,
          },
        ],
      },
    };
  }
}

/**
 * Writes every suppression of the stack into its cdk.tf.json, under the `"//"` key Terraform JSON ignores
 * (`{ "//": { "policy": { "suppressions": [...] } } }`, read by lib/core/synthesized-stack.ts), so a reviewer sees
 * what was switched off and why. Nothing is written when nothing is suppressed.
 */
class PolicyRecord extends TerraformElement {
  static readonly ID = 'policy-record';

  constructor(private readonly stack: TerraformStack) {
    super(stack, PolicyRecord.ID);
  }

  public override toTerraform(): Record<string, unknown> {
    const suppressions: RecordedSuppression[] = PolicyPack.of(this.stack).flatMap((pack) =>
      pack.suppressionsOf(this.stack).map(({ suppression, site }) => ({
        rule: suppression.rule,
        reason: suppression.reason,
        source: site.source,
        scope: site.scope,
      })),
    );
    return suppressions.length ? { '//': { policy: { suppressions } } } : {};
  }
}
