import { describe, expect, it } from 'vitest';
import { parseUnityCatalogName } from '../../src/databricks/table-register.ts';
import {
  type DatabricksPlanInput,
  databricksPlan,
  databricksPlanText,
  PRINCIPAL_PLACEHOLDER,
  UNITY_CATALOG_MASTER_ROLE_ARN,
} from '../../src/plan/databricks-plan.ts';
import { InvalidPlanOptionError } from '../../src/plan/errors.ts';
import { storeLocationOf } from '../../src/plan/landing-location.ts';
import { expectParses } from '../databricks/grammar/databricks-sql-grammar.ts';

const BASE: DatabricksPlanInput = {
  table: parseUnityCatalogName('main.`sales-eu`.orders'),
  landing: storeLocationOf('s3://ddb-lake-data/landing'),
  delta: storeLocationOf('s3://ddb-lake-data/tables/orders'),
  awsPartition: 'aws',
  awsAccount: '123456789012',
  itemCount: 2_000_000,
  sizeBytes: 1_000_000_000,
};

/** Whether the external location at `url` covers `path` (the folder itself or anything under it). */
function covers(url: string, path: string): boolean {
  return path === url || path.startsWith(`${url}/`);
}

describe('databricksPlan', () => {
  it('writes SQL the databricks grammar parses, with the placeholder principal and a given one', async () => {
    const placeholder = databricksPlan(BASE);
    expect(placeholder.principal).toEqual({ name: PRINCIPAL_PLACEHOLDER, placeholder: true });
    expect(placeholder.notes.join('\n')).toContain(`Replace ${PRINCIPAL_PLACEHOLDER}`);
    const named = databricksPlan({
      ...BASE,
      principal: 'etl@example.com',
      landing: storeLocationOf('s3://other.bucket/landing'),
    });
    expect(named.principal).toEqual({ name: 'etl@example.com', placeholder: false });
    expect(named.notes).toEqual([]);
    expect(named.statements.every((sql) => !sql.includes(PRINCIPAL_PLACEHOLDER))).toBe(true);
    await expectParses([...placeholder.statements, ...named.statements]);
  });

  it('one location per path, each as narrow as the path, and a grant on each', () => {
    const plan = databricksPlan(BASE);
    expect(plan.externalLocations.map((l) => [l.name, l.url, l.covers])).toEqual([
      ['ddb-lake-landing-ddb-lake-data', 's3://ddb-lake-data/landing', ['landing']],
      ['ddb-lake-delta-ddb-lake-data', 's3://ddb-lake-data/tables/orders', ['delta']],
    ]);
    expect(plan.externalLocations[1]?.sql).toBe(
      "CREATE EXTERNAL LOCATION IF NOT EXISTS `ddb-lake-delta-ddb-lake-data`\nURL 's3://ddb-lake-data/tables/orders'\nWITH (STORAGE CREDENTIAL `ddb-lake-s3`)\nCOMMENT 'ddb-lake: delta of main.sales-eu.orders'",
    );
    expect(plan.grants.map((g) => g.sql)).toEqual([
      `GRANT USE CATALOG ON CATALOG \`main\` TO \`${PRINCIPAL_PLACEHOLDER}\``,
      `GRANT USE SCHEMA, CREATE TABLE, CREATE FUNCTION ON SCHEMA \`main\`.\`sales-eu\` TO \`${PRINCIPAL_PLACEHOLDER}\``,
      `GRANT CREATE EXTERNAL TABLE, READ FILES, WRITE FILES ON EXTERNAL LOCATION \`ddb-lake-landing-ddb-lake-data\` TO \`${PRINCIPAL_PLACEHOLDER}\``,
      `GRANT CREATE EXTERNAL TABLE, READ FILES, WRITE FILES ON EXTERNAL LOCATION \`ddb-lake-delta-ddb-lake-data\` TO \`${PRINCIPAL_PLACEHOLDER}\``,
    ]);
  });

  it('one location for both when one path is inside the other, whichever comes first', () => {
    for (const [landing, delta] of [
      ['s3://b/lake', 's3://b/lake/tables/orders'],
      ['s3://b/lake/landing', 's3://b/lake'],
    ] as const) {
      const plan = databricksPlan({
        ...BASE,
        landing: storeLocationOf(landing),
        delta: storeLocationOf(delta),
      });
      expect(plan.externalLocations.map((l) => [l.name, l.url, l.covers])).toEqual([
        ['ddb-lake-b', 's3://b/lake', ['landing', 'delta']],
      ]);
    }
    // A folder that only starts like another is not inside it.
    const siblings = databricksPlan({
      ...BASE,
      landing: storeLocationOf('s3://b/data'),
      delta: storeLocationOf('s3://b/data-lake/orders'),
    });
    expect(siblings.externalLocations.map((l) => l.url)).toEqual(['s3://b/data', 's3://b/data-lake/orders']);
  });

  it('grants cover the landing area and the Delta table in two buckets, prefixes kept', () => {
    const landing = 's3://landing-bucket/ddb/landing';
    const delta = 's3://lake-bucket/warehouse/tables/orders';
    const plan = databricksPlan({
      ...BASE,
      landing: storeLocationOf(landing),
      delta: storeLocationOf(delta),
      principal: 'etl@example.com',
    });
    expect(plan.externalLocations.map((l) => l.url)).toEqual([landing, delta]);
    for (const path of [landing, delta]) {
      const location = plan.externalLocations.find((l) => covers(l.url, path));
      expect(location, path).toBeDefined();
      expect(plan.grants.map((g) => g.sql)).toContain(
        `GRANT CREATE EXTERNAL TABLE, READ FILES, WRITE FILES ON EXTERNAL LOCATION \`${location?.name}\` TO \`etl@example.com\``,
      );
    }
  });

  it('says how the storage credential is made, with the trust policy Unity Catalog needs', () => {
    const plan = databricksPlan(BASE);
    const credential = plan.storageCredential;
    expect(credential.how).toContain('Catalog Explorer');
    expect(credential.how).toContain('Not SQL');
    expect(credential.roleArn).toBe('arn:aws:iam::123456789012:role/<role-name>');
    expect(credential.trustPolicy.Statement[0]?.Principal.AWS).toEqual([
      UNITY_CATALOG_MASTER_ROLE_ARN,
      credential.roleArn,
    ]);
    expect(credential.trustPolicy.Statement[0]?.Condition).toEqual({
      StringEquals: { 'sts:ExternalId': '<external ID shown by Databricks>' },
    });
    expect(credential.permissionsPolicy.Statement.flatMap((s) => s.Resource)).toEqual([
      'arn:aws:s3:::ddb-lake-data/landing/*',
      'arn:aws:s3:::ddb-lake-data/tables/orders/*',
      'arn:aws:s3:::ddb-lake-data',
      credential.roleArn,
    ]);
  });

  it('says CAN USE is set on the warehouse, not in SQL', () => {
    const plan = databricksPlan({ ...BASE, warehouseId: 'abc123', principal: 'etl@example.com' });
    expect(plan.warehouse.id).toBe('abc123');
    expect(plan.warehouse.canUse).toContain('SQL Warehouses > abc123 > Permissions');
    expect(plan.statements.some((sql) => /CAN USE/i.test(sql))).toBe(false);
  });

  it('refuses a local Delta table, and assumptions that are not positive numbers', () => {
    expect(() => databricksPlan({ ...BASE, delta: storeLocationOf('file:///tmp/lake/orders') })).toThrow(
      InvalidPlanOptionError,
    );
    expect(() => databricksPlan({ ...BASE, assumptions: { mbPerSecond: 0 } })).toThrow(
      /databricksMbPerSecond/,
    );
    expect(() => databricksPlan({ ...BASE, assumptions: { statementSeconds: -1 } })).toThrow(
      /databricksStatementSeconds/,
    );
  });

  it('estimates warehouse time from size and item count, and states its assumptions in text and JSON', () => {
    const plan = databricksPlan(BASE);
    // 8 statements × 2 s + 1,000 MB at 100 MB/s.
    expect(plan.estimate.firstLoad.durationMs).toBe(26_000);
    // 9 statements × 2 s + 2,000,000 rows × (64 + 40) bytes = 208 MB at 100 MB/s.
    expect(plan.estimate.batch.durationMs).toBeCloseTo(20_080, 6);
    const json = JSON.parse(JSON.stringify(plan));
    expect(json.estimate.assumptions).toEqual({
      mbPerSecond: 100,
      statementSeconds: 2,
      firstLoadStatements: 8,
      batchStatements: 9,
      keyColumnBytes: 64,
      seqColumnBytes: 40,
    });
    const text = databricksPlanText(plan).join('\n');
    expect(text).toContain('100 MB/s');
    expect(text).toContain('--databricks-mb-per-second');
    expect(text).toContain('--databricks-statement-seconds');
    expect(text).toContain('Databricks publishes no such figure');
    expect(text).toMatch(/first load\s+~26 s\s+8 statements × 2 s \+ 1000\.0 MB at 100 MB\/s/);
    expect(text).toMatch(/each batch\s+~21 s\s+9 statements × 2 s \+ 208\.0 MB of key columns/);

    const faster = databricksPlan({ ...BASE, assumptions: { mbPerSecond: 200, statementSeconds: 0 } });
    expect(faster.estimate.firstLoad.durationMs).toBe(5_000);
    expect(faster.estimate.assumptions.mbPerSecond).toBe(200);
  });
});
