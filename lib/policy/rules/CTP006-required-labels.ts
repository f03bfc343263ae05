/**
 * CTP006: pipelines carry the labels the organisation requires (cost allocation, ownership). The keys come from
 * cdktf.json context `cloudTasksPipelines:policy.requiredLabels`, the pack's props and the spec's
 * `policy.requiredLabels`; with none configured the rule does not apply. Labels reach resources through the
 * provider's default_labels.
 */
import { checkResult, isRecord, NOT_APPLICABLE, type PolicyRule } from '../types';

function missing(required: readonly string[], labels: Readonly<Record<string, unknown>>): string[] {
  return required.filter((k) => typeof labels[k] !== 'string' || (labels[k] as string).trim() === '');
}

export const CTP006: PolicyRule = {
  id: 'CTP006',
  name: 'required-labels',
  level: 'error',
  description: 'Every pipeline carries the labels the organisation requires (configured, e.g. team and cost-center).',
  checkSpec: ({ spec, config }) => {
    if (config.requiredLabels.length === 0) return NOT_APPLICABLE;
    const absent = missing(config.requiredLabels, spec.labels);
    if (absent.length === 0) return checkResult([]);
    return checkResult([
      {
        path: 'labels',
        message: `missing required label${absent.length > 1 ? 's' : ''} ${absent.join(', ')} (required: ${config.requiredLabels.join(', ')}); add ${absent.length > 1 ? 'them' : 'it'} under labels`,
      },
    ]);
  },
  checkBlock: ({ block, config }) => {
    if (config.requiredLabels.length === 0 || block.kind !== 'provider' || block.type !== 'google')
      return NOT_APPLICABLE;
    const labels = isRecord(block.config.default_labels) ? block.config.default_labels : {};
    const absent = missing(config.requiredLabels, labels);
    if (absent.length === 0) return checkResult([]);
    return checkResult([
      {
        path: `${block.address}.default_labels`,
        message: `missing required label${absent.length > 1 ? 's' : ''} ${absent.join(', ')}; add ${absent.length > 1 ? 'them' : 'it'} to the provider's defaultLabels`,
      },
    ]);
  },
};
