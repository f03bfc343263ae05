/**
 * RunLedger: the Firestore (Native mode) database that keeps a pipeline's runs (docs/runs.md), its composite indexes,
 * and read/write grants on that database only.
 *
 * - The database the stack creates has `deletion_policy = "ABANDON"`: `cdktf destroy` removes it from the state and
 *   leaves it, with the run history, in the project (docs/decisions/ledger-database.md says how to deploy again).
 * - An existing database (the spec's `ledger.database`) is only referenced: no database and no index is created.
 * - Firestore has no IAM policy of its own per database: roles are granted on the project, and an IAM condition on
 *   the database's resource name (`resource.name == "projects/<p>/databases/<d>"`) narrows a grant to one database
 *   (Firestore IAM docs, "IAM Conditions"; the provider has no google_firestore_database_iam_* resource). So
 *   grantReadWrite is the one project-level binding the stack makes, and it carries that condition.
 */
import { Construct } from 'constructs';
import type { ITerraformDependable } from '../cdktf/core';
import { FirestoreDatabase, FirestoreIndex, ProjectIamMember } from '../cdktf/google';
import { LEDGER_INDEXES } from '../core/ledger-layout';
import { databaseIdProblems, locationIdProblems } from '../core/rules/firestore';
import { projectIdProblems } from '../core/rules/resource-manager';
import { checkIamMember, isUnresolved, throwIfProblems } from './validation';

/** Lets a member read and write documents: `roles/datastore.user` (datastore.entities.*, nothing administrative). */
export const LEDGER_ROLE = 'roles/datastore.user';

export interface RunLedgerProps {
  /** Project of the database. */
  readonly project: string;
  /** The database id: `(default)` or 4-63 lower-case letters, digits and hyphens. */
  readonly databaseId: string;
  /**
   * Create the database (Native mode) at this Firestore location (a region such as `us-central1`, or `nam5`, `eur3`).
   * Unset: the database exists already; it is referenced, and neither it nor its indexes are created.
   * @default - an existing database
   */
  readonly createAt?: string;
  /**
   * What `cdktf destroy` does to a database this construct created: `ABANDON` keeps it (and every run) in the
   * project, `DELETE` deletes it.
   * @default 'ABANDON'
   */
  readonly deletionPolicy?: 'ABANDON' | 'DELETE';
  /**
   * How grantReadWrite's IAM conditions are titled (`<title> run ledger`), e.g. the stack name.
   * @default - the database id
   */
  readonly title?: string;
  /**
   * Resources the database waits for (the `firestore.googleapis.com` API service).
   * @default - none
   */
  readonly dependsOn?: ITerraformDependable[];
}

export class RunLedger extends Construct {
  public readonly project: string;
  public readonly databaseId: string;
  /** `projects/<project>/databases/<database>`: what IAM conditions and the REST API name. */
  public readonly databaseName: string;
  /** Present when this construct creates the database. */
  public readonly database?: FirestoreDatabase;
  /** The composite indexes the ledger's readers need (LEDGER_INDEXES), for a database this construct creates. */
  public readonly indexes: readonly FirestoreIndex[];
  private readonly title: string;
  private readonly bindings = new Map<string, ProjectIamMember>();

  constructor(scope: Construct, id: string, props: RunLedgerProps) {
    super(scope, id);
    throwIfProblems(this, 'RunLedger', [
      ...(isUnresolved(props.project) ? [] : projectIdProblems(props.project)),
      ...(isUnresolved(props.databaseId) ? [] : databaseIdProblems(props.databaseId, ['databaseId'])),
      ...(props.createAt === undefined || isUnresolved(props.createAt)
        ? []
        : locationIdProblems(props.createAt, ['createAt'])),
    ]);
    this.project = props.project;
    this.databaseId = props.databaseId;
    this.databaseName = `projects/${props.project}/databases/${props.databaseId}`;
    this.title = props.title ?? props.databaseId;
    if (props.createAt === undefined) {
      this.indexes = [];
      return;
    }
    this.database = new FirestoreDatabase(this, 'Database', {
      project: props.project,
      name: props.databaseId,
      locationId: props.createAt,
      type: 'FIRESTORE_NATIVE',
      deletionPolicy: props.deletionPolicy ?? 'ABANDON',
      dependsOn: props.dependsOn,
    });
    this.indexes = LEDGER_INDEXES.map(
      (index, i) =>
        new FirestoreIndex(this, `Index${i}`, {
          project: props.project,
          // The database resource's name, so Terraform creates the database first.
          database: this.database!.name,
          collection: index.collectionGroup,
          queryScope: index.queryScope,
          fields: index.fields.map((f) => ({ fieldPath: f.fieldPath, order: f.order })),
        }),
    );
  }

  /**
   * Lets `member` read and write the ledger's documents, and only this database's: `roles/datastore.user` on the
   * project with the condition `resource.name == "<databaseName>"`. Granting the same member twice returns the first
   * binding.
   */
  public grantReadWrite(member: string): ProjectIamMember {
    checkIamMember(this, 'RunLedger', 'grantReadWrite', member);
    const existing = this.bindings.get(member);
    if (existing) return existing;
    const binding = new ProjectIamMember(this, `ReadWrite-${member.replace(/\//g, '_')}`, {
      project: this.project,
      role: LEDGER_ROLE,
      member,
      condition: {
        title: `${this.title} run ledger`.slice(0, 100),
        description: `Read and write the run ledger ${this.databaseName} only (cloud-tasks-pipelines).`,
        expression: `resource.name == "${this.databaseName}"`,
      },
      ...(this.database ? { dependsOn: [this.database] } : {}),
    });
    this.bindings.set(member, binding);
    return binding;
  }

  /** Every binding grantReadWrite made, and the database and indexes (for `depends_on` lists). */
  public get dependables(): ITerraformDependable[] {
    return [...(this.database ? [this.database] : []), ...this.indexes, ...this.bindings.values()];
  }
}
