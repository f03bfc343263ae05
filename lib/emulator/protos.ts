/**
 * Loads the Cloud Tasks v2 service definition from the .proto files that @google-cloud/tasks ships, with the Google
 * common protos they import taken from google-gax (the client's own dependency). Serving exactly the client's protos
 * means the official client works unchanged against the emulator.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadPackageDefinition, type GrpcObject, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

/** The directory of an installed package (its `exports` hide package.json from require.resolve). */
function packageRoot(name: string, from?: string): string {
  const entry = require.resolve(name, from ? { paths: [from] } : undefined);
  for (let dir = path.dirname(entry); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === name)
      return dir;
  }
  throw new Error(`cannot find the package root of ${name} (resolved ${entry}); run npm install`);
}

let cached: ServiceDefinition | undefined;

/** The `google.cloud.tasks.v2.CloudTasks` service definition (loaded once per process). */
export function cloudTasksServiceDefinition(): ServiceDefinition {
  if (cached) return cached;
  const tasksRoot = packageRoot('@google-cloud/tasks');
  const gaxRoot = packageRoot('google-gax', tasksRoot);
  const definition = loadSync('google/cloud/tasks/v2/cloudtasks.proto', {
    // snake_case fields as on the wire; unset fields stay undefined so presence (proto3 messages) is visible;
    // int64 seconds as numbers (a timestamp fits a double); enums by name.
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: false,
    oneofs: true,
    includeDirs: [path.join(tasksRoot, 'build', 'protos'), path.join(gaxRoot, 'build', 'protos')],
  });
  const grpcObject = loadPackageDefinition(definition);
  const v2 = ((grpcObject.google as GrpcObject).cloud as GrpcObject).tasks as GrpcObject;
  const service = (v2.v2 as GrpcObject).CloudTasks as unknown as { service: ServiceDefinition };
  cached = service.service;
  return cached;
}
