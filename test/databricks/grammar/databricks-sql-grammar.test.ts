import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectParses, parseDatabricksSql } from './databricks-sql-grammar.ts';

/** Statements of the shapes the Databricks engine generates. */
const engineStatements = [
  `CREATE TABLE IF NOT EXISTS \`main\`.\`lake\`.\`orders\` (
  pk STRING NOT NULL,
  sk STRING,
  amount DECIMAL(38,18),
  _ddb_ts TIMESTAMP,
  _ddb_sequence STRING
)
USING DELTA
LOCATION 's3://ddb-lake-bucket/lake/orders'
TBLPROPERTIES (
  'delta.minReaderVersion' = '3',
  'delta.minWriterVersion' = '7',
  'delta.enableDeletionVectors' = 'true'
)`,
  `INSERT INTO \`main\`.\`lake\`.\`orders_changes\`
SELECT
  get_json_object(dynamodb, '$.Keys.pk.S') AS pk,
  try_cast(get_json_object(dynamodb, '$.NewImage.amount.N') AS DECIMAL(38,18)) AS amount,
  from_json(dynamodb, 'Keys MAP<STRING, STRING>, SequenceNumber STRING') AS parsed,
  eventName AS op
FROM read_files(:files, format => 'json', schema => 'eventName STRING, dynamodb STRING')`,
  `MERGE INTO IDENTIFIER(:target) AS t
USING (
  SELECT *
  FROM \`main\`.\`lake\`.\`orders_changes\`
  QUALIFY row_number() OVER (PARTITION BY pk ORDER BY _ddb_sequence DESC) = 1
) AS s
ON t.pk = s.pk
WHEN MATCHED AND s.op = 'REMOVE' THEN DELETE
WHEN MATCHED AND s._ddb_sequence > t._ddb_sequence THEN UPDATE SET pk = s.pk, amount = s.amount, _ddb_ts = s._ddb_ts
WHEN NOT MATCHED AND s.op <> 'REMOVE' THEN INSERT (pk, amount, _ddb_ts) VALUES (s.pk, s.amount, s._ddb_ts)
WHEN NOT MATCHED BY SOURCE AND t._ddb_ts < :cutoff THEN DELETE`,
  'ALTER TABLE `main`.`lake`.`orders` ADD COLUMNS (status STRING, total DECIMAL(38,18))',
  "ALTER TABLE `main`.`lake`.`orders` SET TBLPROPERTIES ('ddb-lake.version' = '1')",
  `CREATE OR REPLACE FUNCTION \`main\`.\`lake\`.\`ddb_number\`(n STRING)
RETURNS DECIMAL(38,18)
LANGUAGE PYTHON
DETERMINISTIC
AS $$
from decimal import Decimal
return Decimal(n) if n is not None else None
$$`,
  'GRANT USE CATALOG ON CATALOG `main` TO `ddb-lake-writers`',
  'GRANT USE SCHEMA, CREATE TABLE, SELECT, MODIFY ON SCHEMA `main`.`lake` TO `ddb-lake-writers`',
  'GRANT READ FILES, WRITE FILES, CREATE EXTERNAL TABLE ON EXTERNAL LOCATION `ddb-lake-bucket` TO `ddb-lake-writers`',
  'GRANT CREATE EXTERNAL LOCATION ON STORAGE CREDENTIAL `ddb-lake-role` TO `ddb-lake-admins`',
  `CREATE EXTERNAL LOCATION IF NOT EXISTS \`ddb-lake-bucket\`
URL 's3://ddb-lake-bucket/lake'
WITH (STORAGE CREDENTIAL \`ddb-lake-role\`)
COMMENT 'Tables written by ddb-lake'`,
  'DESCRIBE HISTORY `main`.`lake`.`orders` LIMIT 1',
];

describe('parseDatabricksSql', () => {
  it('parses the statements the engine generates', async () => {
    await expectParses(engineStatements);
  });

  it('reports a broken statement unparsable from where the grammar lost it', async () => {
    const [result] = await parseDatabricksSql(['MERGE INTO t USING s ON WHEN']);
    expect(result).toMatchObject({
      parsed: false,
      unparsable: [{ line: 1, position: 1, text: 'MERGE INTO t USING s ON WHEN' }],
    });
  });

  it('reports a misspelled keyword with its line and position', async () => {
    const results = await parseDatabricksSql([
      'CREATE TABLE main.lake.orders (pk STRING) USIGN DELTA',
      "SELECT pk\nFROM main.lake.orders\nWHERE pk = 'a' ORDER pk",
    ]);
    expect(results.map((result) => result.unparsable)).toEqual([
      [{ line: 1, position: 43, text: 'USIGN DELTA' }],
      [{ line: 3, position: 16, text: 'ORDER pk' }],
    ]);
  });

  it('reports which stand-ins each statement used', async () => {
    const results = await parseDatabricksSql([
      'SELECT 1',
      "SELECT * FROM read_files(:files, format => 'json')",
    ]);
    expect(results.map((result) => result.gapsUsed)).toEqual([[], ['named-arguments', 'parameter-markers']]);
  });

  it('returns the results in the order of the statements, one per statement', async () => {
    const statements = Array.from({ length: 12 }, (_, index) =>
      index % 3 === 2 ? `SELEC ${index}` : `SELECT ${index}`,
    );
    const results = await parseDatabricksSql(statements);
    expect(results.map((result) => [result.statement, result.parsed])).toEqual(
      statements.map((statement, index) => [statement, index % 3 !== 2]),
    );
  });

  it('refuses text outside the grammar it cannot lex, rather than misreading its encoding', async () => {
    const [result] = await parseDatabricksSql(['SELECT ¤ FROM t']);
    expect(result!.parsed).toBe(false);
  });

  it('reports text without a statement unparsable', async () => {
    const results = await parseDatabricksSql(['', '  \n', '-- MERGE INTO t']);
    expect(results.map((result) => result.parsed)).toEqual([false, false, false]);
  });

  it('fails saying how to install sqlfluff when it is missing', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'ddb-lake-no-sqlfluff-'));
    const path = process.env['PATH'];
    process.env['PATH'] = empty;
    try {
      await expect(parseDatabricksSql(['SELECT 1'])).rejects.toThrow(
        /sqlfluff is not installed.*apt-get install sqlfluff/,
      );
    } finally {
      process.env['PATH'] = path;
      await rm(empty, { recursive: true });
    }
  });
});

describe('expectParses', () => {
  it('fails listing every unparsable section of every statement', async () => {
    const failure = await expectParses([
      'SELECT 1',
      'MERGE INTO t USING s ON WHEN',
      'SELECT pk\nFROM main.lake.orders\nWHERE pk = :pk ORDER pk',
    ]).then(
      () => undefined,
      (error: Error) => error.message,
    );
    expect(failure).toContain(
      'statement 1 (MERGE INTO t USING s ON WHEN):\n  line 1, position 1: MERGE INTO t USING s ON WHEN',
    );
    expect(failure).toContain(
      'statement 2 (SELECT pk) [stand-ins: parameter-markers]:\n  line 3, position 18: ORDER pk',
    );
    expect(failure).not.toContain('statement 0');
  });
});
