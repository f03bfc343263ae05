/** What the numbers were measured on: written at the top of docs/BENCHMARKS.md. */
import { cpus, loadavg, totalmem, type as osType, release } from 'node:os';

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryBytes: number;
  readonly os: string;
  readonly node: string;
  /** 1-minute load average when read. */
  readonly loadAverage: number;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpuModel: (list[0]?.model ?? 'unknown').trim(),
    cores: list.length,
    memoryBytes: totalmem(),
    os: `${osType()} ${release()}`,
    node: process.version,
    loadAverage: loadavg()[0],
  };
}

/** The 1-minute load average: other work on the machine shows up in wall times, so every section records it. */
export function currentLoad(): number {
  return loadavg()[0];
}
