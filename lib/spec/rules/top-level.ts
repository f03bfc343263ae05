/** Where the pipeline lives and how it is named: project, region, environment, names, labels, backend, alert channels. */
import { formatValue, type FieldPath, type Problem } from '../../core/problem';
import { LIMITS } from '../../core/rules/cloud-tasks';
import { projectIdProblems } from '../../core/rules/resource-manager';
import { findSecrets } from '../../core/secrets';
import {
  GCS_BUCKET_PATTERN,
  LABEL_KEY_PATTERN,
  LABEL_VALUE_PATTERN,
  MAX_LABELS,
  NAME_FORMAT_HINT,
  NAME_PATTERN,
  NOTIFICATION_CHANNEL_PATTERN,
} from '../formats';
import { problemAt, type RuleContext } from './context';

/**
 * Our naming rule for environment, pipeline and step names (formats.ts NAME_PATTERN). A look-alike letter from another
 * script (a Cyrillic `а` in `trаin`) is named by its code point, since it looks right in the message.
 */
export function nameProblems(path: FieldPath, value: string, what: string): Problem[] {
  if (NAME_PATTERN.test(value)) return [];
  const foreign = [...value].findIndex((c) => c.codePointAt(0)! > 0x7f);
  const hint =
    foreign < 0
      ? ''
      : ` (character ${foreign + 1} is U+${[...value][foreign].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}, not an ASCII letter)`;
  return [problemAt(path, value, `${JSON.stringify(value)} is not a valid ${what}${hint}: ${NAME_FORMAT_HINT}`)];
}

export function topLevelProblems({ spec }: RuleContext): Problem[] {
  const out: Problem[] = [...projectIdProblems(spec.project)];
  if (!LIMITS.locationPattern.test(spec.region))
    out.push(
      problemAt(
        ['region'],
        spec.region,
        `${JSON.stringify(spec.region)} is not a Cloud Tasks location: use a region name such as us-central1`,
      ),
    );
  out.push(...nameProblems(['environment'], spec.environment, 'environment name'));
  out.push(...nameProblems(['pipeline', 'name'], spec.pipeline.name, 'pipeline name'));

  const labelKeys = Object.keys(spec.labels);
  if (labelKeys.length > MAX_LABELS)
    out.push(
      problemAt(
        ['labels'],
        `${labelKeys.length} labels`,
        `${labelKeys.length} labels; Google Cloud allows at most ${MAX_LABELS} per resource`,
      ),
    );
  for (const [key, value] of Object.entries(spec.labels)) {
    if (!LABEL_KEY_PATTERN.test(key))
      out.push(
        problemAt(
          ['labels', key],
          key,
          `label key ${JSON.stringify(key)} is not valid: 1-63 lower-case letters, digits, underscores and hyphens, starting with a lower-case letter`,
        ),
      );
    else if (!LABEL_VALUE_PATTERN.test(value)) {
      // Labels are public metadata, but a pasted credential must not be echoed by the error that refuses it.
      const secret = findSecrets({ [key]: value }, []).length > 0;
      out.push(
        problemAt(
          ['labels', key],
          secret ? '(not shown)' : value,
          `label value ${secret ? '(not shown: it may be a credential)' : formatValue(value)} is not valid: at most 63 lower-case letters, digits, underscores and hyphens (quote numbers in YAML)`,
        ),
      );
    }
  }
  if (spec.backend && !GCS_BUCKET_PATTERN.test(spec.backend.gcs.bucket))
    out.push(
      problemAt(
        ['backend', 'gcs', 'bucket'],
        spec.backend.gcs.bucket,
        `${JSON.stringify(spec.backend.gcs.bucket)} is not a valid Cloud Storage bucket name: 3-63 lower-case letters, digits, hyphens, underscores and dots, starting and ending with a letter or digit`,
      ),
    );
  spec.monitoring?.notificationChannels.forEach((channel, i) => {
    if (!NOTIFICATION_CHANNEL_PATTERN.test(channel))
      out.push(
        problemAt(
          ['monitoring', 'notificationChannels', i],
          channel,
          `${formatValue(channel)} is not a notification channel name: use projects/<project>/notificationChannels/<id>`,
        ),
      );
  });
  return out;
}
