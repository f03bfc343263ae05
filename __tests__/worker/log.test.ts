import { LABELS_FIELD, TRACE_FIELD, createStepLogger, logLine, traceContextOf } from '../../lib/worker/log';

describe('traceContextOf', () => {
  test('X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=1, the span id (decimal) as 16 hex digits', () => {
    expect(traceContextOf({ 'x-cloud-trace-context': '105445aa7843bc8bf206b12000100000/12345;o=1' }, 'acme')).toEqual({
      trace: 'projects/acme/traces/105445aa7843bc8bf206b12000100000',
      spanId: '0000000000003039',
      sampled: true,
    });
    expect(
      traceContextOf(new Headers({ 'X-Cloud-Trace-Context': '105445AA7843BC8BF206B12000100000' }), 'acme'),
    ).toEqual({
      trace: 'projects/acme/traces/105445aa7843bc8bf206b12000100000',
    });
  });

  test('W3C traceparent when there is no X-Cloud-Trace-Context; nothing for malformed values', () => {
    expect(traceContextOf({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }, 'acme')).toEqual({
      trace: 'projects/acme/traces/4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      sampled: true,
    });
    expect(traceContextOf({ 'x-cloud-trace-context': 'not-a-trace' }, 'acme')).toBeUndefined();
    expect(traceContextOf({}, 'acme')).toBeUndefined();
  });
});

describe('log lines', () => {
  test('one JSON object: severity, message, time, string labels, trace; user strings stay data', () => {
    const line = logLine(
      'WARNING',
      'failed: "quoted"\nnext line',
      { runId: 'r1', step: 'train', shard: 'all', attempt: 2, absent: undefined },
      { trace: 'projects/p/traces/t' },
      { event: 'work-failed' },
      new Date(Date.UTC(2030, 0, 1)),
    );
    expect(line.includes('\n')).toBe(false);
    expect(JSON.parse(line)).toEqual({
      event: 'work-failed',
      severity: 'WARNING',
      message: 'failed: "quoted"\nnext line',
      time: '2030-01-01T00:00:00.000Z',
      [LABELS_FIELD]: { runId: 'r1', step: 'train', shard: 'all', attempt: '2' },
      [TRACE_FIELD]: 'projects/p/traces/t',
    });
  });

  test('a field that cannot be JSON (a cycle) is written as text, not thrown', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const lines: string[] = [];
    createStepLogger((l) => lines.push(l), { runId: 'r1' }).error('boom', { cyclic, big: BigInt(2) ** BigInt(70) });
    const entry = JSON.parse(lines[0]);
    expect(entry).toMatchObject({ severity: 'ERROR', message: 'boom', cyclic: '[object Object]' });
  });
});
