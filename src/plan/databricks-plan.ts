import { databricksIdentifier, databricksString } from '../databricks/statement-dialect.ts';
import { type UnityCatalogName, unityCatalogNameSql } from '../databricks/table-register.ts';
import { InvalidPlanOptionError } from './errors.ts';
import type { PolicyDocument } from './iam-policy.ts';
import type { StoreLocation } from './landing-location.ts';

/*
 * The Databricks side of a plan: what Unity Catalog needs before the Databricks engine (apply on a
 * SQL warehouse) or `table register` can use the landing area and the Delta table, as SQL a person
 * can run, and how much warehouse time a first load and a batch are expected to take. Pure.
 *
 * From the Databricks documentation:
 * - CREATE EXTERNAL LOCATION [IF NOT EXISTS] name URL 's3://…' WITH (STORAGE CREDENTIAL cred):
 *   needs a metastore admin or CREATE EXTERNAL LOCATION on the metastore and on the credential.
 * - A storage credential for S3 is an IAM role; it is created in Catalog Explorer (or by an account
 *   admin), not in SQL here. The role's trust policy lets Unity Catalog's role
 *   (arn:aws:iam::414351767826:role/unity-catalog-prod-UCMasterRole-14S5ZJVKOTYTL on commercial AWS;
 *   GovCloud differs) and the role itself (it must be self-assuming) assume it, with the external
 *   ID Databricks shows when the credential is created (the Databricks account ID when an account
 *   admin creates it).
 * - Privileges: USE CATALOG, USE SCHEMA, CREATE TABLE and CREATE FUNCTION (apply creates its key
 *   bucket and plain JSON functions in the schema), CREATE EXTERNAL TABLE, READ FILES and WRITE FILES
 *   on the external location; CAN USE on the SQL warehouse is a workspace permission, not a grant.
 * - Names: special characters such as `-` need backticks; no period in a name.
 *
 * Databricks publishes no throughput per warehouse size, so the time estimate rests on stated
 * assumptions (WarehouseAssumptions), each overridable by a flag of `ddb-lake plan`.
 */

/** Unity Catalog's role that assumes storage credential roles, on commercial AWS (Databricks docs). */
export const UNITY_CATALOG_MASTER_ROLE_ARN =
  'arn:aws:iam::414351767826:role/unity-catalog-prod-UCMasterRole-14S5ZJVKOTYTL';

/** Shown, and written into the grants, when no `--databricks-principal` is given. */
export const PRINCIPAL_PLACEHOLDER = '<user-or-service-principal>';

/** The default name of the storage credential the external locations use. */
export const DEFAULT_STORAGE_CREDENTIAL = 'ddb-lake-s3';

/** How fast the warehouse is assumed to work; every figure is a flag of `ddb-lake plan`. */
export interface WarehouseAssumptions {
  /**
   * Decimal megabytes of table data per second one statement reads, merges and writes. Not
   * published by Databricks: 100 MB/s is an assumption for a Small warehouse; measure a batch (the
   * statement durations are in the warehouse query history) and pass what you see.
   */
  readonly mbPerSecond: number;
  /** Seconds every statement costs whatever its size (compile, commit, result): an assumption. */
  readonly statementSeconds: number;
}

export const DEFAULT_WAREHOUSE_ASSUMPTIONS: WarehouseAssumptions = { mbPerSecond: 100, statementSeconds: 2 };

/**
 * Statements of a first batch on Databricks (databricks/databricks-engine.ts): ddb-lake's two
 * functions, the two checks, the schema statistics, CREATE TABLE, MERGE and the tombstone query
 * (test/databricks/databricks-engine.test.ts checks these against the engine's dry run).
 */
export const FIRST_LOAD_STATEMENTS = 8;
/**
 * Statements of a later batch without a schema change: the two functions, the table's registration
 * and location check, the two checks, the schema statistics, MERGE and the tombstone query.
 */
export const BATCH_STATEMENTS = 9;

/** `_ddb_seq`: a sequence number padded to 40 digits (lake/sequence-number.ts). */
export const SEQ_COLUMN_BYTES = 40;
/** The assumed average length of `_ddb_key`, the plain JSON text of an item's key attributes. */
export const ASSUMED_KEY_COLUMN_BYTES = 64;

export interface DatabricksPlanInput {
  /** `--databricks-name`. */
  readonly table: UnityCatalogName;
  readonly landing: StoreLocation;
  /** The Delta table; must be on S3. */
  readonly delta: StoreLocation;
  /** The DynamoDB table's AWS partition and account: the IAM role's ARN is in that account. */
  readonly awsPartition: string;
  readonly awsAccount: string;
  /** DescribeTable's figures. */
  readonly itemCount: number;
  readonly sizeBytes: number;
  /** Who apply runs as: a user's email or a service principal's application ID. */
  readonly principal?: string | undefined;
  /** `--warehouse`. */
  readonly warehouseId?: string | undefined;
  readonly storageCredential?: string | undefined;
  readonly assumptions?: Partial<WarehouseAssumptions> | undefined;
}

/** An IAM role trust policy (no Resource; principals as a list), ready for `JSON.stringify`. */
export interface TrustPolicyDocument {
  readonly Version: '2012-10-17';
  readonly Statement: readonly {
    readonly Sid: string;
    readonly Effect: 'Allow';
    readonly Principal: { readonly AWS: readonly string[] };
    readonly Action: 'sts:AssumeRole';
    readonly Condition: Readonly<Record<string, Readonly<Record<string, string>>>>;
  }[];
}

/** One external location to create, and the paths it covers. */
export interface ExternalLocationPlan {
  readonly name: string;
  readonly url: string;
  /** Which of the two paths it covers. */
  readonly covers: readonly ('landing' | 'delta')[];
  readonly sql: string;
}

/** One GRANT, and why apply needs it. */
export interface GrantPlan {
  readonly sql: string;
  readonly why: string;
}

/** A warehouse time estimate and how it was reached. */
export interface WarehouseTime {
  readonly durationMs: number;
  readonly basis: string;
}

/** The Databricks section of a plan. */
export interface DatabricksPlan {
  /** `catalog.schema.table` as the statements spell it. */
  readonly table: string;
  readonly principal: { readonly name: string; readonly placeholder: boolean };
  readonly storageCredential: {
    readonly name: string;
    /** Where and by whom it is created: it is not SQL. */
    readonly how: string;
    /** The ARN to give it, with the role name to choose. */
    readonly roleArn: string;
    readonly trustPolicy: TrustPolicyDocument;
    readonly permissionsPolicy: PolicyDocument;
  };
  readonly externalLocations: readonly ExternalLocationPlan[];
  readonly grants: readonly GrantPlan[];
  readonly warehouse: {
    readonly id: string | null;
    /** CAN USE is a workspace permission, not SQL: where to set it. */
    readonly canUse: string;
  };
  /** Every SQL statement above, in the order to run them. */
  readonly statements: readonly string[];
  readonly estimate: {
    readonly assumptions: WarehouseAssumptions & {
      readonly firstLoadStatements: number;
      readonly batchStatements: number;
      readonly keyColumnBytes: number;
      readonly seqColumnBytes: number;
    };
    readonly firstLoad: WarehouseTime;
    readonly batch: WarehouseTime;
    /** The assumptions in words, for the reader. */
    readonly notes: readonly string[];
  };
  readonly notes: readonly string[];
}

type S3Location = StoreLocation & { readonly kind: 's3' };

function folderUrl(bucket: string, segments: readonly string[]): string {
  return segments.length === 0 ? `s3://${bucket}` : `s3://${bucket}/${segments.join('/')}`;
}

/**
 * The external locations that cover the paths, each as narrow as it can be: one per path at the
 * path itself, except that a path inside another is covered by the other's location, which is
 * then enough for both.
 */
function locationsFor(paths: readonly { what: 'landing' | 'delta'; location: S3Location }[]): {
  url: string;
  bucket: string;
  covers: ('landing' | 'delta')[];
}[] {
  const url = (location: S3Location) =>
    folderUrl(location.bucket, location.prefix === '' ? [] : [location.prefix]);
  const inside = (inner: string, outer: string) => inner === outer || inner.startsWith(`${outer}/`);
  const result: { url: string; bucket: string; covers: ('landing' | 'delta')[] }[] = [];
  for (const { what, location } of paths) {
    const own = url(location);
    const outer = result.find((r) => inside(own, r.url));
    if (outer !== undefined) {
      outer.covers.push(what);
      continue;
    }
    const inner = result.find((r) => inside(r.url, own));
    if (inner !== undefined) {
      inner.url = own;
      inner.covers.push(what);
      continue;
    }
    result.push({ url: own, bucket: location.bucket, covers: [what] });
  }
  return result;
}

function positive(name: string, value: number, zeroAllowed: boolean): number {
  if (!Number.isFinite(value) || value < 0 || (!zeroAllowed && value === 0)) {
    throw new InvalidPlanOptionError(
      name,
      `must be a number ${zeroAllowed ? 'of 0 or more' : 'above 0'}, not ${value}`,
    );
  }
  return value;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/**
 * The Databricks section of a plan: the storage credential (how to create it, its IAM role's trust
 * and permissions policies), the external location(s) covering the landing area and the Delta
 * table (one per path, or one for both when one path is inside the other), the grants apply's principal
 * needs, where CAN USE on the warehouse is set, and the warehouse time of a first load and of a
 * batch from the table's size and item count under `assumptions`. Pure.
 * @throws InvalidPlanOptionError when the Delta table is not on S3, or for an assumption that is
 *   not a positive number.
 */
export function databricksPlan(input: DatabricksPlanInput): DatabricksPlan {
  if (input.delta.kind !== 's3') {
    throw new InvalidPlanOptionError(
      'delta',
      `is ${input.delta.url}, a local folder: Unity Catalog only reads tables on cloud storage, so the Databricks section needs --delta s3://bucket/prefix`,
    );
  }
  const assumptions: WarehouseAssumptions = {
    mbPerSecond: positive(
      'databricksMbPerSecond',
      input.assumptions?.mbPerSecond ?? DEFAULT_WAREHOUSE_ASSUMPTIONS.mbPerSecond,
      false,
    ),
    statementSeconds: positive(
      'databricksStatementSeconds',
      input.assumptions?.statementSeconds ?? DEFAULT_WAREHOUSE_ASSUMPTIONS.statementSeconds,
      true,
    ),
  };
  const principalGiven = input.principal !== undefined && input.principal.trim() !== '';
  const principal = principalGiven ? input.principal!.trim() : PRINCIPAL_PLACEHOLDER;
  const who = databricksIdentifier(principal);
  const credential = input.storageCredential ?? DEFAULT_STORAGE_CREDENTIAL;
  const table = unityCatalogNameSql(input.table);
  const notes: string[] = [];

  const paths: { what: 'landing' | 'delta'; location: S3Location }[] = [
    { what: 'delta', location: input.delta },
  ];
  if (input.landing.kind === 's3') paths.unshift({ what: 'landing', location: input.landing });
  else {
    notes.push(
      `The landing area ${input.landing.url} is a local folder: the Databricks engine reads change files with read_files from cloud storage, so it needs the landing area on S3 (register alone does not).`,
    );
  }
  const externalLocations = locationsFor(paths).map(({ url, bucket, covers }): ExternalLocationPlan => {
    const name = `ddb-lake-${covers.length === 1 ? `${covers[0]}-` : ''}${bucket.replaceAll('.', '-')}`;
    return {
      name,
      url,
      covers,
      sql: `CREATE EXTERNAL LOCATION IF NOT EXISTS ${databricksIdentifier(name)}\nURL ${databricksString(url)}\nWITH (STORAGE CREDENTIAL ${databricksIdentifier(credential)})\nCOMMENT ${databricksString(`ddb-lake: ${covers.join(' and ')} of ${input.table.catalog}.${input.table.schema}.${input.table.table}`)}`,
    };
  });

  const catalog = databricksIdentifier(input.table.catalog);
  const schema = `${catalog}.${databricksIdentifier(input.table.schema)}`;
  const grants: GrantPlan[] = [
    { sql: `GRANT USE CATALOG ON CATALOG ${catalog} TO ${who}`, why: 'to reach anything in the catalog' },
    {
      sql: `GRANT USE SCHEMA, CREATE TABLE, CREATE FUNCTION ON SCHEMA ${schema} TO ${who}`,
      why: 'apply creates the lake table, its tombstone table and its two functions there (and owns them)',
    },
    ...externalLocations.map((location) => ({
      sql: `GRANT CREATE EXTERNAL TABLE, READ FILES, WRITE FILES ON EXTERNAL LOCATION ${databricksIdentifier(location.name)} TO ${who}`,
      why: `covers the ${location.covers.join(' and ')} (${location.url}): tables there, change files read, Delta files written`,
    })),
  ];
  if (!principalGiven) {
    notes.push(
      `Replace ${PRINCIPAL_PLACEHOLDER} with who apply runs as (--databricks-principal): a user's email or a service principal's application ID.`,
    );
  }

  const role = `arn:${input.awsPartition}:iam::${input.awsAccount}:role/<role-name>`;
  const buckets = [...new Set(paths.map((p) => p.location.bucket))];
  const storageCredential = {
    name: credential,
    how:
      `Not SQL: a metastore admin (or a holder of CREATE STORAGE CREDENTIAL) creates it in Catalog Explorer (Catalog > External data > Credentials > Create credential, AWS IAM role), or an account admin does, naming an IAM role ${role}. ` +
      "Databricks then shows the external ID to put in the role's trust policy (the Databricks account ID when an account admin creates it). The trust policy below is the one the Databricks docs give for commercial AWS (GovCloud has another Unity Catalog role); the role must also trust itself. Skip this if a credential for these buckets exists, and use its name (--databricks-storage-credential).",
    roleArn: role,
    trustPolicy: {
      Version: '2012-10-17' as const,
      Statement: [
        {
          Sid: 'UnityCatalogAssumesThisRole',
          Effect: 'Allow' as const,
          Principal: { AWS: [UNITY_CATALOG_MASTER_ROLE_ARN, role] },
          Action: 'sts:AssumeRole' as const,
          Condition: { StringEquals: { 'sts:ExternalId': '<external ID shown by Databricks>' } },
        },
      ],
    },
    permissionsPolicy: {
      Version: '2012-10-17' as const,
      Statement: [
        {
          Sid: 'DdbLakeUnityCatalogObjects',
          Effect: 'Allow' as const,
          Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
          Resource: externalLocations.map(
            (l) => `arn:${input.awsPartition}:s3:::${l.url.slice('s3://'.length)}/*`,
          ),
        },
        {
          Sid: 'DdbLakeUnityCatalogBuckets',
          Effect: 'Allow' as const,
          Action: ['s3:ListBucket', 's3:GetBucketLocation'],
          Resource: buckets.map((bucket) => `arn:${input.awsPartition}:s3:::${bucket}`),
        },
        {
          Sid: 'DdbLakeUnityCatalogSelfAssume',
          Effect: 'Allow' as const,
          Action: ['sts:AssumeRole'],
          Resource: role,
        },
      ],
    },
  };

  const warehouse = {
    id: input.warehouseId ?? null,
    canUse: `Not SQL: in the workspace, SQL Warehouses > ${input.warehouseId ?? 'the warehouse'} > Permissions, give ${principal} Can use (a workspace admin or a holder of Can manage on the warehouse can).`,
  };

  const mbPerMs = (assumptions.mbPerSecond * 1e6) / 1000;
  const overheadMs = (statements: number) => statements * assumptions.statementSeconds * 1000;
  const firstLoadMs = overheadMs(FIRST_LOAD_STATEMENTS) + input.sizeBytes / mbPerMs;
  const keyBytes = input.itemCount * (ASSUMED_KEY_COLUMN_BYTES + SEQ_COLUMN_BYTES);
  const batchMs = overheadMs(BATCH_STATEMENTS) + keyBytes / mbPerMs;
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  const estimateNotes = [
    `Assumed: the warehouse processes ${assumptions.mbPerSecond} MB/s of table data per statement (--databricks-mb-per-second; Databricks publishes no such figure: measure a batch in the warehouse query history and pass yours) and every statement costs ${assumptions.statementSeconds} s whatever its size (--databricks-statement-seconds).`,
    `The first load reads and writes the snapshot once: DescribeTable's size (${mb(input.sizeBytes)}) stands for it. A batch's MERGE reads the _ddb_key and _ddb_seq columns of every bucket its changes touch, taken here as all of them: ${input.itemCount.toLocaleString('en-US')} rows × (${ASSUMED_KEY_COLUMN_BYTES} bytes of key text, assumed, + ${SEQ_COLUMN_BYTES} of sequence number), plus the batch's own changes, which plan cannot know.`,
    'Not included: starting a stopped warehouse (serverless warehouses start in seconds, classic and pro in minutes), queueing behind other queries, and the table optimize work apply does after some batches.',
  ];
  return {
    table,
    principal: { name: principal, placeholder: !principalGiven },
    storageCredential,
    externalLocations,
    grants,
    warehouse,
    statements: [...externalLocations.map((l) => l.sql), ...grants.map((g) => g.sql)],
    estimate: {
      assumptions: {
        ...assumptions,
        firstLoadStatements: FIRST_LOAD_STATEMENTS,
        batchStatements: BATCH_STATEMENTS,
        keyColumnBytes: ASSUMED_KEY_COLUMN_BYTES,
        seqColumnBytes: SEQ_COLUMN_BYTES,
      },
      firstLoad: {
        durationMs: firstLoadMs,
        basis: `${FIRST_LOAD_STATEMENTS} statements × ${assumptions.statementSeconds} s + ${mb(input.sizeBytes)} at ${assumptions.mbPerSecond} MB/s (${seconds(input.sizeBytes / mbPerMs)})`,
      },
      batch: {
        durationMs: batchMs,
        basis: `${BATCH_STATEMENTS} statements × ${assumptions.statementSeconds} s + ${mb(keyBytes)} of key columns at ${assumptions.mbPerSecond} MB/s (${seconds(keyBytes / mbPerMs)})`,
      },
      notes: estimateNotes,
    },
    notes,
  };
}

/** `40 s`, `12 min`, `1.5 h`. */
function humanDuration(ms: number): string {
  if (ms < 60_000) return `${Math.max(1, Math.ceil(ms / 1000))} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** The Databricks section as the lines `ddb-lake plan` prints. Pure. */
export function databricksPlanText(plan: DatabricksPlan): string[] {
  const lines: string[] = [];
  const json = (value: unknown) =>
    JSON.stringify(value, null, 2)
      .split('\n')
      .map((line) => `     ${line}`);
  const sql = (text: string) => `${text};`.split('\n').map((line) => `     ${line}`);
  lines.push(`Databricks: Unity Catalog table ${plan.table}, apply running as ${plan.principal.name}`);
  for (const note of plan.notes) lines.push(`  note: ${note}`);
  lines.push(
    `  1. Storage credential ${databricksIdentifier(plan.storageCredential.name)}. ${plan.storageCredential.how}`,
  );
  lines.push('     Trust policy of the IAM role:');
  lines.push(...json(plan.storageCredential.trustPolicy));
  lines.push('     Permissions policy of the IAM role:');
  lines.push(...json(plan.storageCredential.permissionsPolicy));
  lines.push(
    '  2. External location(s), run by a metastore admin or a holder of CREATE EXTERNAL LOCATION on the metastore and the credential (skip one an existing location already covers):',
  );
  for (const location of plan.externalLocations) lines.push(...sql(location.sql));
  lines.push('  3. Grants, run by the owner of the catalog, schema and location(s) or a metastore admin:');
  for (const grant of plan.grants) {
    lines.push(`     -- ${grant.why}`);
    lines.push(...sql(grant.sql));
  }
  lines.push(`  4. CAN USE on the SQL warehouse. ${plan.warehouse.canUse}`);
  const e = plan.estimate;
  lines.push('  Warehouse time (an estimate under the assumptions below):');
  lines.push(`     first load  ~${humanDuration(e.firstLoad.durationMs)}  ${e.firstLoad.basis}`);
  lines.push(`     each batch  ~${humanDuration(e.batch.durationMs)}  ${e.batch.basis}`);
  for (const note of e.notes) lines.push(`     ${note}`);
  return lines;
}
