/**
 * Organisation-wide policy settings: cdktf.json's `context` key `cloudTasksPipelines:policy` (what `cdktf synth` puts
 * in the App's context), read from cdktf.json itself when the app runs without the CLI (`tsx main.ts`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { IConstruct } from 'constructs';
import { isRecord, type PolicyConfig } from './types';

/** cdktf.json `context` key for organisation-wide policy settings. */
export const POLICY_CONTEXT_KEY = 'cloudTasksPipelines:policy';

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

/** The settings one stack is checked with: the organisation's, the pack's and the spec's required labels together. */
export function mergedPolicyConfig(...sources: ReadonlyArray<Partial<PolicyConfig> | undefined>): PolicyConfig {
  return { requiredLabels: [...new Set(sources.flatMap((s) => s?.requiredLabels ?? []))] };
}
