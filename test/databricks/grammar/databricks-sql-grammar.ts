import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';

const run = promisify(execFile);

/**
 * How to get the grammar. Debian's package is the one the stand-ins below were written against
 * (sqlfluff 1.4.5, whose `databricks` dialect is its Spark SQL grammar).
 */
export const SQLFLUFF_INSTALL =
  'sudo apt-get install sqlfluff (or run `bash scripts/ensure-setup.sh` as root)';

/**
 * A construct Databricks SQL accepts that sqlfluff 1.4.5's `databricks` dialect refuses. Its
 * rewrite replaces the construct, and nothing around it, by text of the same shape that the
 * grammar accepts, so the rest of the statement is still checked; it returns the statement
 * unchanged when the construct is absent.
 */
export interface GrammarGap {
  readonly name: string;
  /** What Databricks accepts, in the reference's words. */
  readonly databricks: string;
  /** The Databricks SQL reference page (and section) that documents it. */
  readonly reference: string;
  readonly rewrite: (statement: string) => string;
}

/**
 * A part of a statement that sqlfluff could not parse, from its first non-blank character; line
 * and position (the character in that line) count from 1.
 */
export interface UnparsableSection {
  readonly line: number;
  readonly position: number;
  readonly text: string;
}

/** What the grammar made of one statement. */
export interface GrammarResult {
  readonly statement: string;
  /** The statement as parsed, after the stand-ins; line numbers are those of `statement`. */
  readonly parsedText: string;
  readonly parsed: boolean;
  /** In `parsedText`, in order. */
  readonly unparsable: readonly UnparsableSection[];
  /** Names of the gaps whose rewrite changed this statement, in the order they were applied. */
  readonly gapsUsed: readonly string[];
}

export interface ParseOptions {
  /** The stand-ins to apply, in order; GRAMMAR_GAPS unless given. */
  readonly gaps?: readonly GrammarGap[];
}

const reference = 'https://docs.databricks.com/aws/en/sql/language-manual/';
const identifier = String.raw`(?:[A-Za-z_]\w*|\x60(?:[^\x60]|\x60\x60)+\x60)`;
const stringLiteral = String.raw`'(?:[^'\\]|\\.)*'`;
const dataType = String.raw`[A-Za-z_]\w*(?:\s*\([\d\s,]*\))?(?:\s*<[\w\s,:<>]*>)?`;

/** Databricks privileges spelled with words the ANSI GRANT grammar lacks, and a privilege it has. */
const unityCatalogPrivileges: readonly (readonly [RegExp, string])[] = [
  [/\bUSE\s+(?:CATALOG|SCHEMA|CONNECTION)\b/gi, 'USAGE'],
  [/\bBROWSE\b/gi, 'USAGE'],
  [/\bREAD\s+(?:FILES|VOLUME)\b/gi, 'READ'],
  [/\bWRITE\s+(?:FILES|VOLUME)\b/gi, 'WRITE'],
  [
    /\bCREATE\s+(?:CATALOG|EXTERNAL\s+LOCATION|STORAGE\s+CREDENTIAL|EXTERNAL\s+VOLUME|VOLUME|MANAGED\s+STORAGE|CONNECTION|FOREIGN\s+CATALOG)\b/gi,
    'CREATE',
  ],
  [/\bAPPLY\s+TAG\b/gi, 'APPLY'],
];

/**
 * Every construct the engine's statements use that the grammar lacks, each with its stand-in,
 * applied in this order (parameter markers become literals before IDENTIFIER takes a literal).
 * A test checks that each one is still needed.
 */
export const GRAMMAR_GAPS: readonly GrammarGap[] = [
  {
    name: 'named-arguments',
    databricks: 'function_name ( [ argExpr ] [, ...] [ namedParameter => argExpr ] [, ...] )',
    reference: `${reference}sql-ref-function-invocation#named-parameter-invocation`,
    // Only `name =>` goes; the argument stays in place as a positional one.
    rewrite: (sql) => replaceInCode(sql, /\b[A-Za-z_]\w*\s*=>\s*/g, () => ''),
  },
  {
    name: 'parameter-markers',
    databricks: 'Named parameter markers `:parameter_name`, bound when the statement is run',
    reference: `${reference}sql-ref-parameter-marker#named-parameter-markers`,
    // A string literal: it stands wherever a value may, and IDENTIFIER() takes one. The lookbehind
    // leaves `::` casts and `a:b` JSON paths alone.
    rewrite: (sql) => replaceInCode(sql, /(?<![\w:]):([A-Za-z_]\w*)\b/g, (match) => `'${match}'`),
  },
  {
    name: 'identifier-clause',
    databricks: 'IDENTIFIER ( strExpr ) wherever a table, column or function name goes',
    reference: `${reference}sql-ref-names-identifier-clause`,
    // The grammar takes IDENTIFIER('…') only where a table-valued function may stand (FROM,
    // INSERT INTO), not as a MERGE, ALTER or CREATE target. Only a single literal is rewritten.
    rewrite: (sql) =>
      replaceInCode(
        sql,
        new RegExp(String.raw`\bIDENTIFIER\s*\(\s*(${stringLiteral})\s*\)`, 'gi'),
        (_match, literal: string) => '`' + literal.slice(1, -1).replaceAll('`', '``') + '`',
      ),
  },
  {
    name: 'dollar-quoted-strings',
    databricks: 'CREATE FUNCTION … AS dollar_quoted_string ($$ … $$, or $tag$ … $tag$)',
    reference: `${reference}sql-ref-syntax-ddl-create-sql-function#parameters`,
    // Its content is Python, opaque to SQL: a quoted literal with the same lines stands for it.
    // An unterminated one stays, for the grammar to refuse.
    rewrite: (sql) =>
      regionsOf(sql)
        .map((region) => {
          const tag = /^\$\w*\$/.exec(region.text)?.[0] ?? '';
          if (region.kind !== 'dollar' || region.text.length < 2 * tag.length || !region.text.endsWith(tag))
            return region.text;
          const body = region.text.slice(tag.length, -tag.length);
          return `'${body.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
        })
        .join(''),
  },
  {
    name: 'function-signature',
    databricks:
      'CREATE [OR REPLACE] [TEMPORARY] FUNCTION [IF NOT EXISTS] function_name ( [ function_parameter [, ...] ] ) RETURNS data_type [ characteristic […] ] AS …',
    reference: `${reference}sql-ref-syntax-ddl-create-sql-function#syntax`,
    // The grammar knows only Spark's `CREATE FUNCTION name AS 'class'`, with an unqualified name.
    // The signature is matched here by a pattern of its shape (name-type parameters, a type, known
    // characteristics) and removed, and the qualified name becomes one name; a signature the
    // pattern does not fit stays in place for the grammar to refuse.
    rewrite: (sql) =>
      replaceInCode(
        sql,
        new RegExp(
          String.raw`\bFUNCTION(\s+IF\s+NOT\s+EXISTS)?\s+(${identifier}(?:\s*\.\s*${identifier}){0,2})` +
            String.raw`\s*\(\s*(?:${identifier}\s+${dataType}(?:\s+COMMENT\s+${stringLiteral})?` +
            String.raw`(?:\s*,\s*${identifier}\s+${dataType}(?:\s+COMMENT\s+${stringLiteral})?)*)?\s*\)` +
            String.raw`\s*RETURNS\s+${dataType}` +
            String.raw`(?:\s+(?:LANGUAGE\s+(?:SQL|PYTHON)|(?:NOT\s+)?DETERMINISTIC|COMMENT\s+${stringLiteral}|CONTAINS\s+SQL|READS\s+SQL\s+DATA))*` +
            String.raw`(?=\s+AS\b)`,
          'gi',
        ),
        (match, ifNotExists: string | undefined, name: string) => {
          const kept = `FUNCTION${ifNotExists ?? ''} ${name.replaceAll('`', '').replace(/\W+/g, '_')}`;
          // The removed signature's line breaks stay, so later lines keep their numbers.
          return kept + '\n'.repeat(lineBreaksIn(match) - lineBreaksIn(kept));
        },
      ),
  },
  {
    name: 'quoted-function-name-arguments',
    databricks: 'function_name ( [ argExpr ] [, ...] ), the name (or its parts) in backticks',
    reference: `${reference}sql-ref-function-invocation#syntax`,
    // The grammar takes a backticked function name only for a call with one argument (`\x60f\x60(x)`
    // parses, `\x60f\x60(x, 1)` and `\x60a\x60.\x60f\x60(x, 1)` do not; `a.f(x, 1)` does): the name
    // becomes one plain name, the arguments stay and are checked. A table name before its column
    // list (CREATE TABLE, INSERT INTO) is left alone.
    rewrite: (sql) =>
      replaceInCode(
        sql,
        new RegExp(
          String.raw`(?<![\w\x60.])(?<!\b(?:TABLE|INTO|EXISTS|FUNCTION)\s+)(${identifier}(?:\s*\.\s*${identifier}){0,2})(?=\s*\()`,
          'g',
        ),
        (name: string) => (name.includes('`') ? name.replace(/\W+/g, '_').replace(/^_|_$/g, '') : name),
        { names: true },
      ),
  },
  {
    name: 'merge-not-matched-by-source',
    databricks:
      'WHEN NOT MATCHED BY SOURCE [ AND not_matched_by_source_condition ] THEN { UPDATE SET … | DELETE }',
    reference: `${reference}delta-merge-into#syntax`,
    // WHEN MATCHED takes the same actions (UPDATE SET, DELETE), so the clause is still checked.
    rewrite: (sql) => replaceInCode(sql, /\bWHEN\s+NOT\s+MATCHED\s+BY\s+SOURCE\b/gi, () => 'WHEN MATCHED'),
  },
  {
    name: 'merge-not-matched-by-target',
    databricks: 'WHEN NOT MATCHED [ BY TARGET ] [ AND not_matched_condition ] THEN INSERT …',
    reference: `${reference}delta-merge-into#syntax`,
    rewrite: (sql) =>
      replaceInCode(sql, /\bWHEN\s+NOT\s+MATCHED\s+BY\s+TARGET\b/gi, () => 'WHEN NOT MATCHED'),
  },
  {
    name: 'unity-catalog-privileges',
    databricks:
      'Privileges such as USE CATALOG, USE SCHEMA, READ FILES, WRITE FILES, CREATE EXTERNAL LOCATION',
    reference: `${reference}sql-ref-privileges#privilege-types`,
    // The grammar's GRANT lists Postgres and Snowflake privileges; each Unity Catalog one becomes
    // the one-word privilege it has (USAGE, READ, WRITE, CREATE, APPLY), only between GRANT or
    // REVOKE and ON. A privilege not in the table stays in place for the grammar to refuse.
    rewrite: (sql) =>
      sql.replace(
        /^(\s*(?:GRANT|REVOKE)\b)([^;]*?)(?=\bON\b)/i,
        (_match, verb: string, privileges: string) =>
          verb +
          unityCatalogPrivileges.reduce(
            (text, [pattern, standIn]) => text.replace(pattern, standIn),
            privileges,
          ),
      ),
  },
  {
    name: 'unity-catalog-securables',
    databricks: 'GRANT … ON { CATALOG | EXTERNAL LOCATION | STORAGE CREDENTIAL | VOLUME } name TO principal',
    reference: `${reference}sql-ref-privileges#securable-objects`,
    // Stand-ins the grammar takes before a name: a catalog holds schemas as a DATABASE does; a
    // storage credential or external location is a Snowflake INTEGRATION's counterpart.
    rewrite: (sql) =>
      sql.replace(
        /^(\s*(?:GRANT|REVOKE)\b[^;]*?\bON\s+)(CATALOG|EXTERNAL\s+LOCATION|STORAGE\s+CREDENTIAL|VOLUME)\b/i,
        (_match, head: string, securable: string) =>
          head + ({ CATALOG: 'DATABASE', VOLUME: 'TABLE' }[securable.toUpperCase()] ?? 'INTEGRATION'),
      ),
  },
  {
    name: 'create-external-location',
    databricks:
      'CREATE EXTERNAL LOCATION [IF NOT EXISTS] location_name URL url_str WITH (STORAGE CREDENTIAL credential_name) [COMMENT comment]',
    reference: `${reference}sql-ref-syntax-ddl-create-location#syntax`,
    // The grammar has no such statement. CREATE EXTERNAL TABLE has the same frame: a name, a
    // LOCATION literal, a property naming the credential, a COMMENT; each part is still checked.
    rewrite: (sql) => {
      const head = /^(\s*CREATE\s+EXTERNAL\s+)LOCATION\b/i;
      if (!head.test(sql)) return sql;
      return replaceInCode(
        replaceInCode(sql.replace(head, '$1TABLE'), /\bURL(?=\s*')/gi, () => 'LOCATION'),
        new RegExp(String.raw`\bWITH\s*\(\s*STORAGE\s+CREDENTIAL\s+(${identifier})\s*\)`, 'gi'),
        (_match, credential: string) => `TBLPROPERTIES (${credential} = 'storage credential')`,
      );
    },
  },
];

/**
 * Parses each statement with sqlfluff's `databricks` grammar after the stand-ins, in one sqlfluff
 * process (it takes about 0.3 s to start, then some 40 ms a statement: 20 take about 1.1 s). Results are in the order of `statements`. Throws
 * when sqlfluff is missing or fails, or when its output lacks a statement or does not spell it
 * back exactly (a statement it skipped or misread is never reported as parsed).
 */
export async function parseDatabricksSql(
  statements: readonly string[],
  options: ParseOptions = {},
): Promise<GrammarResult[]> {
  const gaps = options.gaps ?? GRAMMAR_GAPS;
  const prepared = statements.map((statement) => standIn(statement, gaps));
  if (prepared.length === 0) return [];
  const folder = await mkdtemp(join(tmpdir(), 'ddb-lake-grammar-'));
  try {
    const sqlFolder = join(folder, 'statements');
    const config = join(folder, 'sqlfluff.cfg');
    // Files past 20 kB would be skipped with a warning instead of parsed.
    await writeFile(config, '[sqlfluff]\nlarge_file_skip_byte_limit = 0\n');
    await mkdir(sqlFolder);
    const names = prepared.map((_, index) => `statement-${String(index).padStart(5, '0')}.sql`);
    await Promise.all(
      names.map((name, index) => writeFile(join(sqlFolder, name), prepared[index]!.parsedText)),
    );
    const trees = await runSqlfluff(sqlFolder, config);
    return prepared.map((statement, index) => {
      const name = names[index]!;
      const tree = trees.get(name);
      if (tree === undefined)
        throw new Error(
          `sqlfluff gave no parse tree for statement ${index} (${firstLine(statement.statement)})`,
        );
      return { ...statement, ...sectionsOf(tree, statement.parsedText, index) };
    });
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/**
 * Fails the test unless every statement parses, listing every unparsable section of every
 * statement (its index, first line, where the section is and what it says) and the stand-ins used.
 */
export async function expectParses(statements: readonly string[]): Promise<void> {
  const results = await parseDatabricksSql(statements);
  const failures = results.flatMap((result, index) =>
    result.parsed
      ? []
      : [
          `statement ${index} (${firstLine(result.statement)})` +
            (result.gapsUsed.length > 0 ? ` [stand-ins: ${result.gapsUsed.join(', ')}]` : '') +
            ':\n' +
            result.unparsable
              .map((section) => `  line ${section.line}, position ${section.position}: ${section.text}`)
              .join('\n') +
            `\n  as parsed:\n${indent(result.parsedText, '    ')}`,
        ],
  );
  expect(failures, `Databricks SQL the grammar refuses:\n${failures.join('\n')}`).toEqual([]);
}

function standIn(
  statement: string,
  gaps: readonly GrammarGap[],
): { statement: string; parsedText: string; gapsUsed: string[] } {
  let parsedText = statement;
  const gapsUsed: string[] = [];
  for (const gap of gaps) {
    const rewritten = gap.rewrite(parsedText);
    if (rewritten === parsedText) continue;
    if (rewritten.split('\n').length !== parsedText.split('\n').length)
      throw new Error(`the ${gap.name} stand-in changed the line count of: ${firstLine(statement)}`);
    parsedText = rewritten;
    gapsUsed.push(gap.name);
  }
  return { statement, parsedText, gapsUsed };
}

async function runSqlfluff(folder: string, config: string): Promise<Map<string, unknown>> {
  let stdout: string;
  try {
    ({ stdout } = await run(
      'sqlfluff',
      [
        'parse',
        '--dialect',
        'databricks',
        // The raw templater: the default (Jinja) would read `{{`, `{%` and `#}` in statements.
        '--templater',
        'raw',
        '--encoding',
        'utf-8',
        '--ignore-local-config',
        '--config',
        config,
        '--format',
        'json',
        '--nofail',
        folder,
      ],
      { maxBuffer: 256 * 1024 * 1024 },
    ));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error(`sqlfluff is not installed, so no Databricks SQL can be checked: ${SQLFLUFF_INSTALL}`);
    throw new Error(`sqlfluff failed: ${(error as { stderr?: string }).stderr ?? String(error)}`, {
      cause: error,
    });
  }
  const files = JSON.parse(stdout) as { filepath: string; segments: unknown }[];
  return new Map(files.map((file) => [basename(file.filepath), file.segments]));
}

/**
 * Walks the tree in order, spelling the statement back from its leaves: an `unparsable` node's
 * leaves are a section. A tree that does not spell the statement back is an error, as its
 * positions would be wrong. Text without a statement (empty, or only a comment) is not parsed.
 */
function sectionsOf(
  tree: unknown,
  text: string,
  index: number,
): { parsed: boolean; unparsable: UnparsableSection[] } {
  const sections: { offset: number; text: string }[] = [];
  let spelled = '';
  let statements = 0;
  const walk = (node: unknown, inSection: boolean): void => {
    if (typeof node === 'string') {
      spelled += node;
      return;
    }
    if (Array.isArray(node)) {
      for (const child of node) walk(child, inSection);
      return;
    }
    // sqlfluff gives `null` for an empty file.
    if (node === null) return;
    if (typeof node !== 'object') throw new Error(`unexpected sqlfluff output: ${String(node)}`);
    for (const [type, child] of Object.entries(node)) {
      if (type === 'statement') statements += 1;
      if (!inSection && (type === 'unparsable' || type === 'unlexable')) {
        const offset = spelled.length;
        walk(child, true);
        sections.push({ offset, text: spelled.slice(offset) });
      } else walk(child, inSection);
    }
  };
  walk(tree, false);
  if (spelled !== text)
    throw new Error(
      `sqlfluff's parse tree of statement ${index} does not spell it back:\n${spelled}\n---\n${text}`,
    );
  const unparsable = sections.map((section) => {
    const start = section.offset + (section.text.length - section.text.trimStart().length);
    const before = text.slice(0, start);
    const line = before.split('\n').length;
    return { line, position: start - before.lastIndexOf('\n'), text: section.text.trim() };
  });
  if (statements === 0)
    unparsable.push({ line: 1, position: 1, text: `no statement in: ${JSON.stringify(text)}` });
  return { parsed: unparsable.length === 0, unparsable };
}

type Region = { kind: 'code' | 'string' | 'identifier' | 'comment' | 'dollar'; start: number; text: string };

/** Splits SQL into code and the quoted or commented regions a rewrite must not touch. */
function regionsOf(sql: string): Region[] {
  const regions: Region[] = [];
  let codeStart = 0;
  let at = 0;
  const close = (kind: Region['kind'], end: number): void => {
    if (at > codeStart) regions.push({ kind: 'code', start: codeStart, text: sql.slice(codeStart, at) });
    regions.push({ kind, start: at, text: sql.slice(at, end) });
    at = end;
    codeStart = end;
  };
  const dollarTag = /\$(?:[A-Za-z_]\w*)?\$/y;
  const endOf = (from: number, pattern: RegExp): number => {
    pattern.lastIndex = from;
    const match = pattern.exec(sql);
    return match === null ? sql.length : match.index + match[0].length;
  };
  while (at < sql.length) {
    const rest = sql.slice(at, at + 2);
    dollarTag.lastIndex = at;
    const dollar = rest[0] === '$' ? dollarTag.exec(sql) : null;
    if (rest[0] === "'" || rest[0] === '"')
      close('string', endOf(at + 1, new RegExp(`(?:\\\\.|[^\\\\${rest[0]}])*${rest[0]}`, 'gs')));
    else if (rest[0] === '`') close('identifier', endOf(at + 1, /(?:``|[^`])*`/g));
    else if (rest === '--') close('comment', endOf(at, /\n|$/g));
    else if (rest === '/*') close('comment', endOf(at + 2, /\*\//g));
    else if (dollar !== null)
      close('dollar', endOf(at + dollar[0].length, new RegExp(`\\${dollar[0].slice(0, -1)}\\$`, 'g')));
    else at += 1;
  }
  if (at > codeStart) regions.push({ kind: 'code', start: codeStart, text: sql.slice(codeStart, at) });
  return regions;
}

/** `text.replace(pattern, replacer)`, for matches that start in code (not in a string or comment). */
function replaceInCode(
  sql: string,
  pattern: RegExp,
  replacer: (match: string, ...groups: string[]) => string,
  { names = false }: { readonly names?: boolean } = {},
): string {
  // With `names`, a match may start at a quoted name (it is then part of the construct).
  const quoted = regionsOf(sql).filter(
    (region) => region.kind !== 'code' && !(names && region.kind === 'identifier'),
  );
  const inQuoted = (offset: number): boolean =>
    quoted.some((region) => offset >= region.start && offset < region.start + region.text.length);
  return sql.replace(pattern, (match: string, ...rest: unknown[]) => {
    const offset = rest.find((value) => typeof value === 'number') as number;
    if (inQuoted(offset)) return match;
    return replacer(match, ...(rest.slice(0, rest.indexOf(offset)) as string[]));
  });
}

function lineBreaksIn(text: string): number {
  return text.split('\n').length - 1;
}

function firstLine(statement: string): string {
  return statement.trim().split('\n')[0] ?? '';
}

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((line) => prefix + line)
    .join('\n');
}
