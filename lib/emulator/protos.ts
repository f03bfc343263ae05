/**
 * The Cloud Tasks v2 API definition both transports serve: the protobufjs JSON descriptors that @google-cloud/tasks
 * ships (`build/protos/protos.json`, compiled from the same .proto files; the client's own REST transport reads it),
 * google-gax's Locations mixin and google.rpc error details, and lib/emulator/protos/v2-additions.ts for what the
 * shipped v2 protos lack (Queue.http_target, BufferTask). gRPC messages are encoded from it, the REST route table is
 * read from its `google.api.http` options, and REST JSON is mapped with proto3-json-serializer over the same types.
 * Loading takes about 40 ms (JSON descriptors, not .proto parsing) and happens once per process.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import type * as Protobuf from 'protobufjs';
import { V2_ADDITIONS_PROTO } from './protos/v2-additions';

/** The directory of an installed package (its `exports` hide package.json and protos.json from require.resolve). */
function packageRoot(name: string, from?: string): string {
  const entry = require.resolve(name, from ? { paths: [from] } : undefined);
  for (let dir = path.dirname(entry); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === name)
      return dir;
  }
  throw new Error(`cannot find the package root of ${name} (resolved ${entry}); run npm install`);
}

export const TASKS_SERVICE = 'google.cloud.tasks.v2.CloudTasks';
export const LOCATIONS_SERVICE = 'google.cloud.location.Locations';

/**
 * protobufjs toObject options: the plain objects handlers see from both transports. int64 as numbers (a timestamp's
 * seconds fit a double), enums by name, bytes as Buffers, unset fields absent (proto3 presence stays visible for
 * messages).
 */
export const OBJECT_OPTIONS: Protobuf.IConversionOptions = { longs: Number, enums: String, defaults: false };

export interface CloudTasksApi {
  readonly root: Protobuf.Root;
  readonly tasks: Protobuf.Service;
  readonly locations: Protobuf.Service;
}

let cached: CloudTasksApi | undefined;

/** The API definition (loaded once per process). */
export function cloudTasksApi(): CloudTasksApi {
  if (cached) return cached;
  // Loaded here, not at module load: nothing protobuf is needed until a server starts.
  const protobuf = require('protobufjs') as typeof Protobuf;
  const tasksRoot = packageRoot('@google-cloud/tasks');
  const gaxRoot = packageRoot('google-gax', tasksRoot);
  const json = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Protobuf.INamespace;
  const root = protobuf.Root.fromJSON(json(path.join(tasksRoot, 'build', 'protos', 'protos.json')));
  for (const mixin of ['locations.json', 'status.json'])
    addMissing(protobuf, root, json(path.join(gaxRoot, 'build', 'protos', mixin)));
  protobuf.parse(V2_ADDITIONS_PROTO, root);

  const v2 = 'google.cloud.tasks.v2';
  // v2beta3 queue.proto: `HttpTarget http_target = 13`; GetQueueRequest/ListQueuesRequest read_mask (2 and 5).
  root.lookupType(`${v2}.Queue`).add(new protobuf.Field('httpTarget', 13, `${v2}.HttpTarget`));
  root.lookupType(`${v2}.GetQueueRequest`).add(new protobuf.Field('readMask', 2, 'google.protobuf.FieldMask'));
  root.lookupType(`${v2}.ListQueuesRequest`).add(new protobuf.Field('readMask', 5, 'google.protobuf.FieldMask'));
  const tasks = root.lookupService(TASKS_SERVICE);
  tasks.add(
    new protobuf.Method('BufferTask', 'rpc', `${v2}.BufferTaskRequest`, `${v2}.BufferTaskResponse`, false, false, {
      '(google.api.http).post': '/v2/{queue=projects/*/locations/*/queues/*}/tasks/{task_id}:buffer',
      '(google.api.http).body': 'body',
    }),
  );
  const locations = root.lookupService(LOCATIONS_SERVICE);
  // The mixin's own rules are v1 (locations.proto); the Cloud Tasks service config maps them under /v2 (the client's
  // REST transport uses the same, cloud_tasks_client httpRules).
  locations.methods.ListLocations.setOption('(google.api.http).get', '/v2/{name=projects/*}/locations');
  delete locations.methods.ListLocations.options?.['(google.api.http).additional_bindings.get'];
  locations.methods.GetLocation.setOption('(google.api.http).get', '/v2/{name=projects/*/locations/*}');
  root.resolveAll();
  cached = { root, tasks, locations };
  return cached;
}

/** Adds the definitions of `json` that `ns` does not have yet (the mixins repeat google.api and google.protobuf). */
function addMissing(protobuf: typeof Protobuf, ns: Protobuf.Namespace, json: Protobuf.INamespace): void {
  for (const [name, nested] of Object.entries(json.nested ?? {})) {
    const existing = ns.get(name);
    if (!existing) ns.addJSON({ [name]: nested });
    else if (existing instanceof protobuf.Namespace && !(existing instanceof protobuf.Type) && 'nested' in nested)
      addMissing(protobuf, existing, nested as Protobuf.INamespace);
  }
}

/** A grpc-js service definition over protobufjs types: plain objects in (OBJECT_OPTIONS), plain objects out. */
export function grpcServiceDefinition(service: Protobuf.Service): ServiceDefinition {
  const definition: Record<string, MethodDefinition<object, object>> = {};
  for (const method of service.methodsArray) {
    method.resolve();
    const req = method.resolvedRequestType!;
    const res = method.resolvedResponseType!;
    definition[method.name] = {
      path: `/${service.fullName.slice(1)}/${method.name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (value: object) => Buffer.from(req.encode(req.fromObject(value)).finish()),
      requestDeserialize: (bytes: Buffer) => req.toObject(req.decode(bytes), OBJECT_OPTIONS),
      responseSerialize: (value: object) => Buffer.from(res.encode(res.fromObject(value)).finish()),
      responseDeserialize: (bytes: Buffer) => res.toObject(res.decode(bytes), OBJECT_OPTIONS),
      originalName: method.name.charAt(0).toLowerCase() + method.name.slice(1),
    };
  }
  return definition;
}
