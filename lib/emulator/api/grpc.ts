/**
 * The gRPC face: the CloudTasks and Locations services on @grpc/grpc-js, each call handed to the transport-neutral
 * handler (handlers.ts). A call that changed the state is answered only once the change is durable (`whenDurable`,
 * the data dir's group commit), so an acknowledged write survives a crash.
 */
import {
  Metadata,
  status,
  type ServerUnaryCall,
  type ServiceError,
  type UntypedServiceImplementation,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { EmulatorError } from '../errors';
import { cloudTasksApi, grpcServiceDefinition } from '../protos';
import type { Handler, Request } from './handlers';
import { statusDetailsBin } from './status-details';

export interface Services {
  readonly definition: ReturnType<typeof grpcServiceDefinition>;
  readonly implementation: UntypedServiceImplementation;
}

/**
 * Both services' definitions and implementations. `whenDurable` resolves once every change made so far is on disk
 * (it resolves at once without a data dir).
 */
export function grpcServices(handlers: Record<string, Handler>, whenDurable: () => Promise<void>): Services[] {
  const api = cloudTasksApi();
  return [api.tasks, api.locations].map((service) => {
    const definition = grpcServiceDefinition(service);
    const implementation: UntypedServiceImplementation = {};
    for (const name of Object.keys(definition)) {
      const handler = handlers[name];
      implementation[name] = (call: ServerUnaryCall<Request, unknown>, callback: sendUnaryData<unknown>): void => {
        let result: unknown;
        try {
          result = handler(call.request, {});
        } catch (err) {
          // A refused call changed nothing, but a change before it (another call) may still be in the batch.
          void whenDurable().then(
            () => callback(toServiceError(err)),
            (e: Error) => callback(toServiceError(e)),
          );
          return;
        }
        whenDurable().then(
          () => callback(null, result),
          (err: Error) => callback(toServiceError(err)),
        );
      };
    }
    return { definition, implementation };
  });
}

function toServiceError(err: unknown): Partial<ServiceError> {
  if (err instanceof EmulatorError) {
    const bin = statusDetailsBin(err);
    const metadata = new Metadata();
    if (bin) metadata.set('grpc-status-details-bin', bin);
    return { code: err.code as status, details: err.message, message: err.message, metadata };
  }
  // A bug in the emulator, or the data dir failing: say so, and keep the stack on the emulator's stderr.
  console.error('cloud-tasks emulator: internal error', err);
  const message = `internal emulator error: ${err instanceof Error ? err.message : String(err)}`;
  return { code: status.INTERNAL, details: message, message };
}
