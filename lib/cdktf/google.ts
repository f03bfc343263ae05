/**
 * The google provider classes this project uses, each imported by its deep path: the package root loads all ~1,000
 * resource classes (about 2.3 s per process here; ../shared/docs/cdktf-notes.md). Add new resources here, by deep
 * path, never `from '@cdktf/provider-google'`.
 */
export { GoogleProvider } from '@cdktf/provider-google/lib/provider';
export { ProjectService } from '@cdktf/provider-google/lib/project-service';
export { ServiceAccount } from '@cdktf/provider-google/lib/service-account';
export { ServiceAccountIamMember } from '@cdktf/provider-google/lib/service-account-iam-member';
export { CloudTasksQueue } from '@cdktf/provider-google/lib/cloud-tasks-queue';
export type { CloudTasksQueueConfig } from '@cdktf/provider-google/lib/cloud-tasks-queue';
export { CloudTasksQueueIamMember } from '@cdktf/provider-google/lib/cloud-tasks-queue-iam-member';
export { CloudRunV2ServiceIamMember } from '@cdktf/provider-google/lib/cloud-run-v2-service-iam-member';
export { MonitoringAlertPolicy } from '@cdktf/provider-google/lib/monitoring-alert-policy';
export { CloudSchedulerJob } from '@cdktf/provider-google/lib/cloud-scheduler-job';
export type { CloudSchedulerJobConfig } from '@cdktf/provider-google/lib/cloud-scheduler-job';
export { FirestoreDatabase } from '@cdktf/provider-google/lib/firestore-database';
export { FirestoreIndex } from '@cdktf/provider-google/lib/firestore-index';
// Job steps (lib/constructs/job-step-access.ts): the invoker's grants to start Cloud Run jobs and Vertex AI custom jobs.
export { CloudRunV2JobIamMember } from '@cdktf/provider-google/lib/cloud-run-v2-job-iam-member';
export { ProjectIamCustomRole } from '@cdktf/provider-google/lib/project-iam-custom-role';
export { ProjectIamMember } from '@cdktf/provider-google/lib/project-iam-member';
