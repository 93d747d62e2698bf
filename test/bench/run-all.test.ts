import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { BENCH_RESULT_ENV, benchRows, readBenchRows, recordBenchResults } from '../../bench/results.ts';
import { BENCHES, NODE, parseOptions, runBench, SIZES } from '../../bench/run-all.ts';

const resultsModule = pathToFileURL(path.resolve('bench/results.ts')).href;

let folder: string;
beforeEach(async () => {
  folder = await mkdtemp(path.join(os.tmpdir(), 'ddb-lake-bench-test-'));
});
afterEach(async () => {
  await rm(folder, { recursive: true, force: true });
});

/** A bench script: reports `ours` against `baseline`, prints `lines` to stderr, exits with `exitCode`. */
async function benchScript(name: string, figure: { ours: number; baseline: number }, exitCode: number) {
  const file = path.join(folder, `${name}.ts`);
  await writeFile(
    file,
    `import { recordBenchResults } from ${JSON.stringify(resultsModule)};
const [size] = process.argv.slice(2);
console.log('measuring at ' + size);
recordBenchResults(${JSON.stringify(name)}, { size: size ?? 'none' }, [
  { metric: 'speed', unit: 'rows/s', ours: ${figure.ours}, baseline: ${figure.baseline}, better: 'higher' },
]);
for (let line = 1; line <= 20; line++) console.error('stderr line ' + line);
process.exitCode = ${exitCode};
`,
  );
  return file;
}

describe('recordBenchResults', () => {
  const saved = process.env[BENCH_RESULT_ENV];
  afterEach(() => {
    if (saved === undefined) delete process.env[BENCH_RESULT_ENV];
    else process.env[BENCH_RESULT_ENV] = saved;
  });

  test('appends one JSON line per figure to the file the environment names, with ratio and peak RSS', async () => {
    const file = path.join(folder, 'rows.jsonl');
    process.env[BENCH_RESULT_ENV] = file;
    const figure = { metric: 'load', unit: 's', ours: 3, baseline: 2, better: 'lower' as const };
    recordBenchResults('first', { items: 10 }, [figure]);
    recordBenchResults('second', { items: 20 }, [figure, { ...figure, metric: 'merge', peakRssMb: 42 }]);
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(3);
    const rows = readBenchRows(file);
    expect(rows.map((row) => [row.bench, row.metric, row.ratio, row.parameters['items']])).toEqual([
      ['first', 'load', 1.5, 10],
      ['second', 'load', 1.5, 20],
      ['second', 'merge', 1.5, 20],
    ]);
    expect(rows[0]?.processPeakRssMb).toBeGreaterThan(1);
    expect(rows[0]?.peakRssMb).toBe(rows[0]?.processPeakRssMb);
    expect(rows[2]?.peakRssMb).toBe(42);
  });

  test('a bench run without the environment variable prints only its own lines and writes no file', async () => {
    const script = await benchScript('by-hand', { ours: 1, baseline: 2 }, 0);
    const env = { ...process.env };
    delete env[BENCH_RESULT_ENV];
    const run = spawnSync(NODE, [script, 'tiny'], { cwd: folder, env, encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('measuring at tiny\n');
    expect(await readdir(folder)).toEqual(['by-hand.ts']);
  });

  test('a figure against a zero baseline is refused naming the bench and metric', () => {
    expect(() =>
      benchRows('scan-export', {}, [
        { metric: 'items', unit: 'items/s', ours: 5, baseline: 0, better: 'higher' },
      ]),
    ).toThrow(/scan-export: the figure "items" has ours 5 and baseline 0/);
  });

  test('a line that is not a row is refused naming the file and line', async () => {
    const file = path.join(folder, 'broken.jsonl');
    await writeFile(file, '{"bench":"a"}\n');
    expect(() => readBenchRows(file)).toThrow(`${file}:1 is not a bench result row`);
  });
});

describe('runBench', () => {
  test('a passing bench returns its rows and its arguments, and its output lines in order', async () => {
    const script = await benchScript('passing', { ours: 300, baseline: 200 }, 0);
    const seen: string[] = [];
    const { run, rows } = await runBench('passing', script, ['tiny'], {
      output: (line, stream) => seen.push(`${stream}: ${line}`),
    });
    expect(run).toMatchObject({
      bench: 'passing',
      status: 'passed',
      exitCode: 0,
      args: ['tiny'],
      stderrTail: [],
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ bench: 'passing', ratio: 1.5, parameters: { size: 'tiny' } });
    expect(seen[0]).toBe('stdout: measuring at tiny');
    expect(seen.filter((line) => line.startsWith('stderr:'))).toHaveLength(20);
  });

  test('a failing bench is a failed run with its exit code and last stderr lines, its rows kept', async () => {
    const script = await benchScript('failing', { ours: 1, baseline: 4 }, 3);
    const { run, rows } = await runBench('failing', script, []);
    expect(run.status).toBe('failed');
    expect(run.exitCode).toBe(3);
    expect(run.stderrTail.at(-1)).toBe('stderr line 20');
    expect(run.stderrTail).not.toContain('stderr line 1');
    expect(rows.map((row) => row.ratio)).toEqual([0.25]);
  });

  test('a script that cannot load fails without stopping the caller', async () => {
    const { run, rows } = await runBench('missing', path.join(folder, 'no-such-bench.ts'), []);
    expect(run.status).toBe('failed');
    expect(run.exitCode).not.toBe(0);
    expect(run.stderrTail.join('\n')).toMatch(/no-such-bench\.ts/);
    expect(rows).toEqual([]);
  });
});

describe('parseOptions', () => {
  test('the default is every bench at medium size, and every bench has arguments for every size', () => {
    expect(parseOptions([])).toEqual({ size: 'medium', only: undefined, compare: undefined });
    for (const bench of BENCHES) expect(Object.keys(bench.sizes).sort()).toEqual([...SIZES].sort());
  });

  test('--only and --size are read, and an unknown bench or size is an error naming it', () => {
    expect(parseOptions(['--size', 'small', '--only', 'delta-write,scan-export'])).toMatchObject({
      size: 'small',
      only: ['delta-write', 'scan-export'],
    });
    expect(parseOptions(['--only', 'delta-wrte'])).toMatch(/no bench named delta-wrte/);
    expect(parseOptions(['--size', 'huge'])).toMatch(/--size is one of small, medium, full, not huge/);
    expect(parseOptions(['--compare'])).toMatch(/--compare needs a value/);
    expect(parseOptions(['--fast'])).toMatch(/unknown argument --fast/);
  });
});
