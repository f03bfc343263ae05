/**
 * Policy, then synth, with each stack's Terraform JSON resolved once. lib/apps/synth.ts runs the policy pack before
 * `app.synth()` (so a policy error writes nothing), and the pack reads the stack's resolved JSON; cdktf's synthesizer
 * then resolved the whole stack again to write it. At 1,000 queues each resolution took about 2 s of a 10 s synth.
 *
 * Within `fn`, a PipelineStack keeps the first JSON it resolves. That is safe because, before anything reads it:
 * - the literal-strings wrapping, which cdktf would apply as an aspect during `app.synth()`, is applied now
 *   (applyLiteralStrings; idempotent), so the first JSON is already the escaped one that will be written;
 * - the policy pack's record of suppressions (the other element added for synth) exists from the stack's
 *   construction (PolicyPack.applyTo);
 * - what cdktf does between the policy and the write (aspects, validations, assets' onSynthesize) adds annotations
 *   and copies files, and changes no element's configuration.
 * __tests__/apps/synth/synthesize-once.test.ts checks the written JSON against an ordinary synth of the same stacks.
 */
import { applyLiteralStrings } from './literal-strings';
import type { PipelineStack } from './pipeline-stack';

export function synthesizeOnce<T>(stacks: readonly PipelineStack[], fn: () => T): T {
  for (const stack of stacks) {
    applyLiteralStrings(stack);
    stack.computeTerraformOnce(true);
  }
  try {
    return fn();
  } finally {
    for (const stack of stacks) stack.computeTerraformOnce(false);
  }
}
