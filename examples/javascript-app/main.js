// A cdktf app in plain JavaScript (`node main.js`): the spec file from pipelines/, one stack, the policy pack's checks.
const { App } = require('cdktf');
const { PipelineStack, loadSpecFile, stackNameFor } = require('cloud-tasks-pipelines');

const file = 'pipelines/recsys-dev.yaml';
const spec = loadSpecFile(file); // throws SpecError naming file, line, field, value and rule
const app = new App();
new PipelineStack(app, stackNameFor(spec), { spec, source: file });
app.synth();
