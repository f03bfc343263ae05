/**
 * Writes pipelines/pipeline.schema.json (for editors running yaml-language-server) and
 * lib/spec/schema-validator.generated.js (the precompiled validator) from lib/spec/schema.ts: `npm run spec:schema`.
 * `--check` exits 1 when either file is out of date (for CI).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipelineSchemaJson, standaloneValidatorSource } from '../lib/spec/schema';

const root = path.join(__dirname, '..');
const outputs: Array<[string, string]> = [
  [path.join(root, 'pipelines', 'pipeline.schema.json'), pipelineSchemaJson()],
  [path.join(root, 'lib', 'spec', 'schema-validator.generated.js'), standaloneValidatorSource()],
];

let stale = 0;
for (const [file, wanted] of outputs) {
  const shown = path.relative(process.cwd(), file);
  if (process.argv.includes('--check')) {
    const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (current !== wanted) {
      process.stderr.write(`${shown} is out of date: run npm run spec:schema\n`);
      stale++;
    }
  } else {
    fs.writeFileSync(file, wanted);
    process.stdout.write(`wrote ${shown}\n`);
  }
}
process.exitCode = stale > 0 ? 1 : 0;
