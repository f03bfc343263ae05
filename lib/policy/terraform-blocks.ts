/** A stack's resources and providers as resolved Terraform JSON (the same JSON cdk.tf.json will hold), for block checks. */
import { TerraformStack } from '../cdktf/core';
import { isRecord, type TerraformBlock } from './types';

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
