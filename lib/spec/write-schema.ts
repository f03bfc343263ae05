/**
 * Writes pipelines/pipeline.schema.json from lib/spec/schema.ts (`npm run spec:schema`), so editors running
 * yaml-language-server complete and check specs. `--check` exits 1 when the file is out of date (for CI).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipelineSchemaJson } from './schema';

const file = path.join(__dirname, '..', '..', 'pipelines', 'pipeline.schema.json');
const wanted = pipelineSchemaJson();

if (process.argv.includes('--check')) {
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (current !== wanted) {
    process.stderr.write(`${path.relative(process.cwd(), file)} is out of date: run npm run spec:schema\n`);
    process.exit(1);
  }
} else {
  fs.writeFileSync(file, wanted);
  process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}
