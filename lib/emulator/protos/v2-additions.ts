/**
 * Parts of the Cloud Tasks v2 API that the REST surface (and gcloud 528) uses but that the v2 protos shipped with
 * @google-cloud/tasks 6.3.0 lack: the queue-level HTTP target and BufferTask. Field numbers and shapes follow the
 * v2beta3 protos of the same package (queue.proto `http_target = 13`, target.proto HttpTarget / UriOverride) and the
 * v2 REST reference for BufferTask (projects.locations.queues.tasks.buffer: queue, taskId, body as google.api.HttpBody;
 * the response carries the task). lib/emulator/protos.ts adds Queue.http_target, the read masks of v2beta3's
 * GetQueue/ListQueues and the BufferTask method to the shipped definitions.
 */
export const V2_ADDITIONS_PROTO = `syntax = "proto3";

package google.cloud.tasks.v2;

message PathOverride {
  string path = 1;
}

message QueryOverride {
  string query_params = 1;
}

message UriOverride {
  enum Scheme {
    SCHEME_UNSPECIFIED = 0;
    HTTP = 1;
    HTTPS = 2;
  }
  enum UriOverrideEnforceMode {
    URI_OVERRIDE_ENFORCE_MODE_UNSPECIFIED = 0;
    IF_NOT_EXISTS = 1;
    ALWAYS = 2;
  }
  optional Scheme scheme = 1;
  optional string host = 2;
  optional int64 port = 3;
  PathOverride path_override = 4;
  QueryOverride query_override = 5;
  UriOverrideEnforceMode uri_override_enforce_mode = 6;
}

message HttpTarget {
  message Header {
    string key = 1;
    string value = 2;
  }
  message HeaderOverride {
    Header header = 1;
  }
  UriOverride uri_override = 1;
  HttpMethod http_method = 2;
  repeated HeaderOverride header_overrides = 3;
  oneof authorization_header {
    OAuthToken oauth_token = 5;
    OidcToken oidc_token = 6;
  }
}

message BufferTaskRequest {
  string queue = 1;
  string task_id = 2;
  google.api.HttpBody body = 3;
}

message BufferTaskResponse {
  Task task = 1;
}
`;
