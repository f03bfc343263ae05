/**
 * How an attempt's outcome is recorded in Task.last_attempt.response_status (a google.rpc.Status): the HTTP status
 * mapped to the canonical code (google/rpc/code.proto gives the HTTP equivalent of each code), or the code for a
 * failure without a response.
 */
import { Code as grpcStatus } from '../errors';

export function rpcStatusForHttp(httpStatus: number): { code: number; message: string } {
  const code = codeForHttp(httpStatus);
  return { code, message: code === grpcStatus.OK ? 'OK' : `HTTP ${httpStatus}` };
}

function codeForHttp(s: number): number {
  if (s >= 200 && s < 300) return grpcStatus.OK;
  switch (s) {
    case 400:
      return grpcStatus.INVALID_ARGUMENT;
    case 401:
      return grpcStatus.UNAUTHENTICATED;
    case 403:
      return grpcStatus.PERMISSION_DENIED;
    case 404:
      return grpcStatus.NOT_FOUND;
    case 409:
      return grpcStatus.ABORTED;
    case 429:
      return grpcStatus.RESOURCE_EXHAUSTED;
    case 499:
      return grpcStatus.CANCELLED;
    case 501:
      return grpcStatus.UNIMPLEMENTED;
    case 503:
      return grpcStatus.UNAVAILABLE;
    case 504:
      return grpcStatus.DEADLINE_EXCEEDED;
    default:
      return s >= 500 ? grpcStatus.INTERNAL : s >= 400 ? grpcStatus.FAILED_PRECONDITION : grpcStatus.UNKNOWN;
  }
}

/**
 * Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date. Returns seconds from `nowMs` (0 for a date in the
 * past), or undefined when the header is absent or malformed.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, (date - nowMs) / 1000);
}
