/**
 * `cloud-tasks-pipelines/emulator`: start and stop the Cloud Tasks emulator in your own process (tests of your
 * workers and enqueuers). `startEmulator({ port: 0 })` picks a free port; `stop()` closes it. docs/emulator.md.
 */
export { startEmulator, type EmulatorOptions, type RunningEmulator } from './server';
