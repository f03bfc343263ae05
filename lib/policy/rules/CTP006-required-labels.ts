/**
 * CTP006: pipelines carry the labels the organisation requires (cost allocation, ownership). The keys come from
 * cdktf.json context `cloudTasksPipelines:policy.requiredLabels`, the pack's props and the spec's
 * `policy.requiredLabels`; with none configured the rule does not apply. Labels reach resources through the
 * provider's default_labels.
 */
import { policyRule } from '../rule';
import { checkResult, NOT_APPLICABLE } from '../types';

export const CTP006 = policyRule({
  id: 'CTP006',
  name: 'required-labels',
  level: 'error',
  description: 'Every pipeline carries the labels the organisation requires (configured, e.g. team and cost-center).',
  check: (s, config) => {
    const required = config.requiredLabels;
    if (required.length === 0 || s.kind !== 'labels') return NOT_APPLICABLE;
    const absent = required.filter((k) => typeof s.labels[k] !== 'string' || (s.labels[k] as string).trim() === '');
    if (absent.length === 0) return checkResult([]);
    const many = absent.length > 1;
    return checkResult([
      {
        path: s.path,
        message: `missing required label${many ? 's' : ''} ${absent.join(', ')} (required: ${required.join(', ')}); add ${many ? 'them' : 'it'} ${s.addWhere}`,
      },
    ]);
  },
});
