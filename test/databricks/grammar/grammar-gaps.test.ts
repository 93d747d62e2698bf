import { describe, expect, it } from 'vitest';
import { GRAMMAR_GAPS, parseDatabricksSql } from './databricks-sql-grammar.ts';

/** For each gap, a statement Databricks accepts that needs that stand-in and no other. */
const needing: Readonly<Record<string, string>> = {
  'named-arguments': "SELECT * FROM read_files('s3://bucket/changes/', format => 'json')",
  'parameter-markers': 'SELECT * FROM main.lake.orders WHERE pk = :pk',
  'identifier-clause':
    "MERGE INTO IDENTIFIER('main.lake.orders') AS t USING changes AS s ON t.pk = s.pk WHEN MATCHED THEN DELETE",
  'dollar-quoted-strings': 'CREATE FUNCTION decode_n AS $$\nreturn s\n$$',
  'function-signature':
    "CREATE FUNCTION main.lake.decode_n(s STRING) RETURNS STRING LANGUAGE PYTHON AS 'return s'",
  'quoted-function-name-arguments': 'SELECT `main`.`lake`.`bucket_of`(k, 16) FROM t',
  'merge-not-matched-by-source':
    'MERGE INTO main.lake.orders AS t USING changes AS s ON t.pk = s.pk WHEN NOT MATCHED BY SOURCE THEN DELETE',
  'merge-not-matched-by-target':
    'MERGE INTO main.lake.orders AS t USING changes AS s ON t.pk = s.pk WHEN NOT MATCHED BY TARGET THEN INSERT *',
  'unity-catalog-privileges': 'GRANT USE SCHEMA ON SCHEMA main.lake TO `data-engineers`',
  'unity-catalog-securables': 'GRANT USAGE ON CATALOG main TO `data-engineers`',
  'create-external-location':
    "CREATE EXTERNAL LOCATION `lake-bucket` URL 's3://bucket/lake' WITH (STORAGE CREDENTIAL `lake-role`)",
};

describe('the grammar gaps', () => {
  it('each has a statement that needs it, and names a Databricks reference page', () => {
    expect(Object.keys(needing).sort()).toEqual(GRAMMAR_GAPS.map((gap) => gap.name).sort());
    for (const gap of GRAMMAR_GAPS) expect(gap.reference).toMatch(/^https:\/\/docs\.databricks\.com\//);
  });

  // When sqlfluff learns a construct, its statement parses without the stand-in and this fails:
  // the entry is then removed.
  it('each is needed: its statement fails without its stand-in and parses with all of them', async () => {
    const withoutEach = await parseDatabricksSql(
      GRAMMAR_GAPS.map((gap) =>
        GRAMMAR_GAPS.filter((other) => other !== gap).reduce(
          (text, other) => other.rewrite(text),
          needing[gap.name]!,
        ),
      ),
      { gaps: [] },
    );
    const withAll = await parseDatabricksSql(GRAMMAR_GAPS.map((gap) => needing[gap.name]!));
    GRAMMAR_GAPS.forEach((gap, index) => {
      expect(withoutEach[index]!.parsed, `${gap.name} without its stand-in`).toBe(false);
      expect(withAll[index], gap.name).toMatchObject({ parsed: true, gapsUsed: [gap.name] });
    });
  });

  it('leave strings, quoted names and comments as they are', async () => {
    const statement =
      "SELECT ':pk', 'format => x', `a:b`, x::STRING -- :pk => 1\nFROM t /* WHEN NOT MATCHED BY SOURCE */";
    const [result] = await parseDatabricksSql([statement]);
    expect(result).toMatchObject({ parsed: true, parsedText: statement, gapsUsed: [] });
  });

  it('rewrite only the construct: an argument after its name, a marker in place', async () => {
    const [result] = await parseDatabricksSql([
      "SELECT a FROM read_files(:files, format => 'json', schema => 'a STRING') WHERE b = :b",
    ]);
    expect(result!.parsedText).toBe("SELECT a FROM read_files(':files', 'json', 'a STRING') WHERE b = ':b'");
  });

  it('leave what does not fit the construct for the grammar to refuse', async () => {
    const results = await parseDatabricksSql([
      'CREATE FUNCTION f AS $$\nreturn s',
      'CREATE FUNCTION main.lake.f(s STRING) RETURN STRING AS $$ return s $$',
      'GRANT USE CATALOGUE ON CATALOG main TO `data-engineers`',
      "CREATE EXTERNAL LOCATION `lake-bucket` URL 's3://bucket/lake' WITH (CREDENTIAL `lake-role`)",
    ]);
    expect(results.map((result) => result.parsed)).toEqual([false, false, false, false]);
  });

  it('keep the lines of a statement, so a section is reported on the line it was written on', async () => {
    const [result] = await parseDatabricksSql([
      'CREATE FUNCTION main.lake.f(s STRING)\nRETURNS STRING\nLANGUAGE PYTHON\nAS $$\nreturn s\n$$\n, x',
    ]);
    expect(result!.unparsable).toEqual([{ line: 7, position: 1, text: ', x' }]);
  });
});
