/**
 * An EmulatorError's details as google.rpc messages: `BadRequest` (field violations) and `Help` (links), packed in
 * `google.protobuf.Any`. gRPC sends them in a `google.rpc.Status` in the `grpc-status-details-bin` trailer (google-gax
 * decodes it into `err.statusDetails`); REST sends them as JSON in `error.details` with their `@type`.
 */
import type { EmulatorError } from '../errors';
import { cloudTasksApi } from '../protos';

const BAD_REQUEST = 'type.googleapis.com/google.rpc.BadRequest';
const HELP = 'type.googleapis.com/google.rpc.Help';

/** The details as proto3 JSON objects (what REST puts in `error.details`). */
export function detailsJson(err: EmulatorError): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  if (err.details.fieldViolations?.length)
    out.push({ '@type': BAD_REQUEST, fieldViolations: err.details.fieldViolations.map((v) => ({ ...v })) });
  if (err.details.links?.length) out.push({ '@type': HELP, links: err.details.links.map((l) => ({ ...l })) });
  return out;
}

/** The encoded google.rpc.Status for `grpc-status-details-bin`, or undefined when the error has no details. */
export function statusDetailsBin(err: EmulatorError): Buffer | undefined {
  if (!err.details.fieldViolations?.length && !err.details.links?.length) return undefined;
  const { root } = cloudTasksApi();
  const pack = (typeUrl: string, type: string, value: object) => {
    const t = root.lookupType(type);
    return { typeUrl, value: t.encode(t.fromObject(value)).finish() };
  };
  const details = [];
  if (err.details.fieldViolations?.length)
    details.push(pack(BAD_REQUEST, 'google.rpc.BadRequest', { fieldViolations: err.details.fieldViolations }));
  if (err.details.links?.length) details.push(pack(HELP, 'google.rpc.Help', { links: err.details.links }));
  const status = root.lookupType('google.rpc.Status');
  return Buffer.from(status.encode(status.fromObject({ code: err.code, message: err.message, details })).finish());
}
