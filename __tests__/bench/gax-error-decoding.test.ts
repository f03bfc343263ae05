/**
 * The performance fix in lib/core/tasks-client.ts: google-gax decodes `grpc-status-details-bin` only when an error has
 * it; every error comes out exactly as google-gax's own parser leaves it.
 */
import { Metadata } from '@grpc/grpc-js';
import { GoogleError } from 'google-gax';
import { decodeStatusDetailsOnlyWhenPresent } from '../../lib/core/tasks-client';

type GrpcLikeError = Error & {
  code: number;
  metadata: Metadata;
  statusDetails?: unknown[];
  reason?: string;
  domain?: string;
};

function alreadyExists(): GrpcLikeError {
  return Object.assign(new Error('6 ALREADY_EXISTS: task exists'), { code: 6, metadata: new Metadata() });
}

/** A google.rpc.Status { code: 6, message: "x", details: [ErrorInfo { reason: "TASK_EXISTS", domain: "cloudtasks.googleapis.com" }] }, encoded by hand. */
function statusWithErrorInfo(): Buffer {
  const str = (field: number, s: string) =>
    Buffer.concat([Buffer.from([(field << 3) | 2, Buffer.byteLength(s)]), Buffer.from(s)]);
  const errorInfo = Buffer.concat([str(1, 'TASK_EXISTS'), str(2, 'cloudtasks.googleapis.com')]);
  const any = Buffer.concat([
    str(1, 'type.googleapis.com/google.rpc.ErrorInfo'),
    Buffer.from([(2 << 3) | 2, errorInfo.length]),
    errorInfo,
  ]);
  return Buffer.concat([Buffer.from([0x08, 6]), str(2, 'x'), Buffer.from([(3 << 3) | 2, any.length]), any]);
}

describe('decodeStatusDetailsOnlyWhenPresent', () => {
  const original = GoogleError.parseGRPCStatusDetails;
  afterAll(() => {
    GoogleError.parseGRPCStatusDetails = original;
  });

  test('GIVEN an error without status details THEN it comes back unchanged, the same as before the fix', () => {
    const before = original.call(GoogleError, alreadyExists() as never) as unknown as GrpcLikeError;
    decodeStatusDetailsOnlyWhenPresent();
    expect(GoogleError.parseGRPCStatusDetails).not.toBe(original);
    const err = alreadyExists();
    const after = GoogleError.parseGRPCStatusDetails(err as never) as unknown as GrpcLikeError;
    expect(after).toBe(err);
    expect(Object.keys(after)).toEqual(Object.keys(before));
    expect(after.statusDetails).toBeUndefined();
  });

  test('GIVEN an error with status details THEN google-gax still decodes them (ErrorInfo promoted)', () => {
    decodeStatusDetailsOnlyWhenPresent();
    const err = alreadyExists();
    err.metadata.set('grpc-status-details-bin', statusWithErrorInfo());
    const out = GoogleError.parseGRPCStatusDetails(err as never) as unknown as GrpcLikeError;
    expect(out.reason).toBe('TASK_EXISTS');
    expect(out.domain).toBe('cloudtasks.googleapis.com');
    expect(out.statusDetails).toHaveLength(1);
  });

  test('installing twice wraps once', () => {
    decodeStatusDetailsOnlyWhenPresent();
    const once = GoogleError.parseGRPCStatusDetails;
    decodeStatusDetailsOnlyWhenPresent();
    expect(GoogleError.parseGRPCStatusDetails).toBe(once);
  });
});
