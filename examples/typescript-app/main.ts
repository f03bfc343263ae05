import { App } from 'cdktf';
import { PipelineStack, parsePipelineSpec, stackNameFor } from 'cloud-tasks-pipelines';

// The same raw shape as a YAML spec, validated and normalized the same way (throws SpecError listing every problem).
const spec = parsePipelineSpec({
  project: 'acme-ml-dev',
  region: 'us-central1',
  environment: 'dev',
  pipeline: {
    name: 'recsys',
    steps: [
      { name: 'train', preset: 'train', target: { url: 'https://train-abc123-uc.a.run.app/tasks' }, next: ['infer'] },
      { name: 'infer', preset: 'infer', target: { url: 'https://infer-abc123-uc.a.run.app/tasks' } },
    ],
    seedTasks: [{ step: 'train', id: 'nightly-2026-12-01', payload: { dataset: 'gs://acme-raw/2026-12-01/' } }],
  },
});

const app = new App();
const stack = new PipelineStack(app, stackNameFor(spec), { spec });
stack.queues.infer.grantEnqueue('serviceAccount:batch-scorer@acme-ml-dev.iam.gserviceaccount.com');
stack.policy.suppress('CTP004', 'retries are bounded by the worker itself');
app.synth();
