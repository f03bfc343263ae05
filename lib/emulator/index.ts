/**
 * The emulator for users' own tests, in process (exposed as `cloud-tasks-pipelines/emulator`):
 *
 *   const emulator = await startEmulator({ dispatch: true });
 *   process.env.CLOUD_TASKS_EMULATOR_HOST = emulator.grpcAddress;   // the gRPC API
 *   fetch(`${emulator.restUrl}v2/projects/p/locations/us-central1/queues`);  // the REST API
 *   await emulator.stop();
 *
 * Importing this module starts nothing and loads neither gRPC nor the protos: `startEmulator` loads them.
 */
export { startEmulator } from './server';
export type { EmulatorOptions, RunningEmulator } from './server';
export { ManualClock, systemClock } from './clock';
export type { Clock } from './clock';
export type { EmulatorEvent, EmulatorEventListener, Queue, QueueHttpTarget, Task } from './model';
export type { DispatchEvent, DispatchEventListener } from './dispatch/events';
export type { EmulatorState, IamPolicy } from './state';
export { EmulatorError } from './errors';
