import { bucketKeyOf, type LandingFolders, type StoreLocation } from './landing-location.ts';
import type { BackfillStrategy } from './strategy.ts';

/** One statement of an IAM policy document, spelled as IAM spells it. */
export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: 'Allow';
  readonly Principal?: { readonly AWS: string };
  readonly Action: readonly string[];
  readonly Resource: string | readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;
}

/** An IAM policy document (identity or bucket policy), ready for `JSON.stringify`. */
export interface PolicyDocument {
  readonly Version: '2012-10-17';
  readonly Statement: readonly PolicyStatement[];
}

export interface CallerPolicyInput {
  /** The table's ARN and the partition it lives in (`aws`, `aws-cn`, …). */
  readonly table: { readonly arn: string; readonly partition: string };
  /** The backfill strategy whose calls the policy allows. */
  readonly strategy: BackfillStrategy;
  readonly landing: StoreLocation;
  readonly folders: LandingFolders;
  /** The Delta table's location, when known: apply writes there. */
  readonly delta?: StoreLocation | undefined;
}

/**
 * The identity policy the caller of ddb-lake needs for one table, least privilege: plan itself,
 * the chosen backfill strategy, capture (the local poller) and apply, each on the table, its
 * streams (`table/<name>/stream/*`), its exports (`table/<name>/export/*`) and the folders of the
 * landing area those steps use (`LandingFolders`), listing restricted to those prefixes with an
 * `s3:prefix` condition. Nothing else is named: no `*` resource, no other table or bucket prefix.
 * S3 statements are left out for a local landing area (or Delta table). Pure.
 */
export function callerPolicy(input: CallerPolicyInput): PolicyDocument {
  const { table, strategy, landing, folders } = input;
  const tableActions = ['dynamodb:DescribeTable', 'dynamodb:DescribeContinuousBackups'];
  if (strategy === 'export') tableActions.push('dynamodb:ExportTableToPointInTime');
  if (strategy === 'scan' || strategy === 'touch') tableActions.push('dynamodb:Scan');
  if (strategy === 'touch') tableActions.push('dynamodb:UpdateItem');

  const statements: PolicyStatement[] = [
    { Sid: 'DdbLakeTable', Effect: 'Allow', Action: tableActions, Resource: table.arn },
    {
      Sid: 'DdbLakeCaptureStream',
      Effect: 'Allow',
      Action: ['dynamodb:DescribeStream', 'dynamodb:GetShardIterator', 'dynamodb:GetRecords'],
      Resource: `${table.arn}/stream/*`,
    },
  ];
  if (strategy === 'export') {
    statements.push({
      Sid: 'DdbLakeExportWatch',
      Effect: 'Allow',
      Action: ['dynamodb:DescribeExport'],
      Resource: `${table.arn}/export/*`,
    });
  }

  if (landing.kind === 's3') {
    // Capture and plan write; the chosen strategy writes its snapshot and its own state; the
    // quarantine replay writes change files and markers, and removes the objects it replayed.
    const writes = [
      folders.changes,
      folders.captureState,
      folders.captureQuarantine,
      folders.captureReplayed,
      folders.plan,
    ];
    // Capture reads its checkpoints, apply reads snapshots, change files, gap records and the
    // capture quarantine (its gate), the quarantine commands read and replay it.
    const reads = [
      folders.changes,
      folders.captureState,
      folders.exports,
      folders.captureQuarantine,
      folders.captureReplayed,
    ];
    const lists = [
      folders.changes,
      folders.captureState,
      folders.captureQuarantine,
      folders.captureReplayed,
      folders.exports,
    ];
    const deletes: string[] = [folders.captureQuarantine];
    if (strategy === 'export') {
      writes.push(folders.exports, folders.nativeExportState);
      reads.push(folders.nativeExportState);
      lists.push(folders.nativeExportState);
      deletes.push(folders.nativeExportState);
    } else {
      const state = strategy === 'scan' ? folders.scanState : folders.touchState;
      if (strategy === 'scan') writes.push(folders.exports);
      writes.push(state);
      reads.push(state);
      lists.push(state);
    }
    const objects = (list: readonly string[]) =>
      unique(list).map(
        (folder) => `arn:${table.partition}:s3:::${landing.bucket}/${bucketKeyOf(landing, folder)}*`,
      );
    statements.push({
      Sid: 'DdbLakeLandingWrite',
      Effect: 'Allow',
      // DynamoDB's export sets object ACLs, and writes large files in parts (as our uploads do).
      Action: [
        's3:PutObject',
        's3:AbortMultipartUpload',
        ...(strategy === 'export' ? ['s3:PutObjectAcl'] : []),
      ],
      Resource: objects(writes),
    });
    statements.push({
      Sid: 'DdbLakeLandingRead',
      Effect: 'Allow',
      Action: ['s3:GetObject'],
      Resource: objects(reads),
    });
    if (deletes.length > 0) {
      statements.push({
        Sid: 'DdbLakeLandingDelete',
        Effect: 'Allow',
        Action: ['s3:DeleteObject'],
        Resource: objects(deletes),
      });
    }
    statements.push({
      Sid: 'DdbLakeLandingList',
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: `arn:${table.partition}:s3:::${landing.bucket}`,
      Condition: {
        StringLike: { 's3:prefix': unique(lists).map((folder) => `${bucketKeyOf(landing, folder)}*`) },
      },
    });
  }

  const delta = input.delta;
  if (delta?.kind === 's3') {
    const root = delta.prefix === '' ? '' : `${delta.prefix}/`;
    statements.push({
      Sid: 'DdbLakeDeltaTable',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
      Resource: `arn:${table.partition}:s3:::${delta.bucket}/${root}*`,
    });
    statements.push({
      Sid: 'DdbLakeDeltaList',
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: `arn:${table.partition}:s3:::${delta.bucket}`,
      Condition: { StringLike: { 's3:prefix': [`${root}*`] } },
    });
  }
  return { Version: '2012-10-17', Statement: statements };
}

function unique(list: readonly string[]): string[] {
  return [...new Set(list)];
}
