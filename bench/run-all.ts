/*
 * Every part's benchmark in one command, next to its baseline, and one table at the end.
 *
 *   npm run bench [-- --size small|medium|full] [-- --only scan-export,delta-write]
 *     [-- --compare bench/results/<earlier>.json]
 *
 * Runs each bench/*.ts script as a child process, one after the other (they would compete for the
 * cores otherwise), with its size options; the script reports its figures through results.ts into
 * a JSON-lines file named by DDB_LAKE_BENCH_RESULT. Its output is passed through, indented, on
 * stderr. Then prints the table on stdout and writes it, with the machine's facts, to
 * bench/results/<date>_<time>.json; `--compare` adds the change of each ratio against an earlier
 * result file. A bench that fails is a line of the table (exit code, last stderr lines) and the
 * others still run; the exit code is 1 when any failed, 2 for bad arguments.
 *
 * Sizes: `full` is each bench's own defaults (the figures the issues asked for; apply-merge alone,
 * with its 100 batches on a 1,000,000-item table, takes longer than the others together);
 * `medium` (the default) the same kinds of work at about half the size, plus writing its exports
 * the first time; `small` a few minutes, to see that every bench runs (apply-merge's 20 batches of
 * 100 take about two of them).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_RESULT_ENV, type BenchRow, readBenchRows } from './results.ts';
import {
  type BenchRun,
  type MachineFacts,
  type ResultDocument,
  ratioChanges,
  readResultDocument,
  renderComparison,
  renderResultTable,
  writeResultDocument,
} from './results-table.ts';

export const SIZES = ['small', 'medium', 'full'] as const;
export type BenchSize = (typeof SIZES)[number];

/** A bench script and its arguments at each size. */
export interface BenchSpec {
  readonly name: string;
  /** Relative to the bench folder. */
  readonly script: string;
  readonly sizes: Readonly<Record<BenchSize, readonly string[]>>;
}

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_DIR = path.dirname(BENCH_DIR);
/** Node 22 from node_modules: it runs the .ts scripts directly; the system node may be older. */
export const NODE = path.join(REPO_DIR, 'node_modules', '.bin', 'node');
const STDERR_TAIL_LINES = 12;

/** A per-size export folder: export-read reuses whatever export its folder holds, whatever its size. */
const exportFolder = (megabytes: number) => path.join(tmpdir(), `ddb-lake-bench-export-${megabytes}mb`);

/** The suite, in the order it runs. */
export const BENCHES: readonly BenchSpec[] = [
  {
    name: 'export-read',
    script: 'export-read.ts',
    sizes: {
      small: [exportFolder(10), '--mb', '10', '--rounds', '2'],
      medium: [exportFolder(100), '--mb', '100', '--rounds', '2'],
      full: [],
    },
  },
  {
    name: 'capture-handler',
    script: 'capture-handler.ts',
    sizes: {
      small: ['--records', '2000', '--rounds', '3'],
      medium: ['--records', '10000', '--rounds', '3'],
      full: [],
    },
  },
  {
    name: 'scan-export',
    script: 'scan-export.ts',
    sizes: {
      small: ['--items', '5000', '--rounds', '1'],
      medium: ['--items', '20000', '--rounds', '2'],
      full: [],
    },
  },
  {
    name: 'delta-write',
    script: 'delta-write.ts',
    sizes: {
      small: ['--rows', '100000', '--rounds', '2'],
      medium: ['--rows', '1000000', '--rounds', '2'],
      full: [],
    },
  },
  {
    name: 'delta-snapshot',
    script: 'delta-snapshot.ts',
    sizes: {
      small: ['--commits', '200', '--rounds', '3'],
      medium: ['--commits', '1000', '--rounds', '3'],
      full: [],
    },
  },
  {
    name: 'apply-load',
    script: 'apply-load.ts',
    sizes: {
      small: ['--items', '20000', '--rounds', '1'],
      medium: ['--items', '500000', '--rounds', '1'],
      full: [],
    },
  },
  {
    name: 'apply-merge',
    script: 'apply-merge.ts',
    // biome-ignore format: flags and their values in pairs
    sizes: {
      small: ['--items', '20000', '--base-items', '2000', '--batches', '100,1000',
        '--history-batches', '20', '--history-changes', '100'],
      medium: ['--items', '500000', '--base-items', '50000', '--batches', '1000,10000,100000',
        '--history-batches', '100', '--history-changes', '1000'],
      full: [],
    },
  },
];

/** Where a bench's output lines go while it runs. */
export type OutputSink = (line: string, stream: 'stdout' | 'stderr') => void;

/**
 * Runs one bench script to its end with DDB_LAKE_BENCH_RESULT pointing at a fresh temporary file,
 * passing each output line to `output`, and returns how it ended and the rows it reported. Never
 * throws for the bench's own failure: that is a `failed` run with its exit code and stderr tail
 * (rows it reported before failing are kept). Sequential by design: the caller awaits each one.
 */
export async function runBench(
  name: string,
  script: string,
  args: readonly string[],
  options: { readonly node?: string; readonly cwd?: string; readonly output?: OutputSink } = {},
): Promise<{ run: BenchRun; rows: BenchRow[] }> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'ddb-lake-bench-run-'));
  const resultFile = path.join(scratch, `${name}.jsonl`);
  const started = performance.now();
  const tail: string[] = [];
  // A long stack trace can push the error's own message out of the tail: keep the last one aside.
  let errorLine: string | undefined;
  try {
    const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      const child = spawn(options.node ?? NODE, [script, ...args], {
        cwd: options.cwd ?? REPO_DIR,
        env: { ...process.env, [BENCH_RESULT_ENV]: resultFile },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const lines = (stream: 'stdout' | 'stderr', source: NodeJS.ReadableStream) => {
        let carry = '';
        source.setEncoding('utf8');
        source.on('data', (chunk: string) => {
          const parts = (carry + chunk).split('\n');
          carry = parts.pop() ?? '';
          for (const line of parts) emit(line, stream);
        });
        source.on('end', () => {
          if (carry !== '') emit(carry, stream);
        });
      };
      const emit = (line: string, stream: 'stdout' | 'stderr') => {
        if (stream === 'stderr') {
          tail.push(line);
          if (tail.length > STDERR_TAIL_LINES) tail.shift();
          if (/^[A-Za-z]*Error\b/.test(line)) errorLine = line;
        }
        options.output?.(line, stream);
      };
      lines('stdout', child.stdout);
      lines('stderr', child.stderr);
      child.on('error', (error) => {
        emit(`could not start ${options.node ?? NODE}: ${error.message}`, 'stderr');
        resolve({ code: null, signal: null });
      });
      child.on('close', (code, signal) => resolve({ code, signal }));
    });
    const seconds = (performance.now() - started) / 1000;
    const passed = ended.code === 0;
    let rows: BenchRow[] = [];
    try {
      rows = readBenchRows(resultFile);
    } catch (error) {
      tail.push((error as Error).message);
    }
    const run: BenchRun = {
      bench: name,
      status: passed ? 'passed' : 'failed',
      exitCode: ended.code,
      ...(ended.signal === null ? {} : { signal: ended.signal }),
      seconds,
      args,
      stderrTail: passed
        ? []
        : errorLine === undefined || tail.includes(errorLine)
          ? tail
          : [errorLine, '…', ...tail],
    };
    return { run, rows };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The facts of this machine and checkout that a result depends on. */
export function machineFacts(): MachineFacts {
  let commit: string | null = null;
  let dirty = false;
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, { cwd: REPO_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    commit = git('rev-parse', 'HEAD').trim();
    dirty = git('status', '--porcelain').trim() !== '';
  } catch {
    commit = null;
  }
  return {
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round((totalmem() / 1e9) * 10) / 10,
    platform: process.platform,
    arch: process.arch,
    node: process.version,
    commit,
    dirty,
  };
}

interface Options {
  readonly size: BenchSize;
  readonly only: readonly string[] | undefined;
  readonly compare: string | undefined;
}

/** The command line, or an error message for a bad one. */
export function parseOptions(argv: readonly string[]): Options | string {
  let size: BenchSize = 'medium';
  let only: string[] | undefined;
  let compare: string | undefined;
  for (let at = 0; at < argv.length; at++) {
    const flag = argv[at];
    const value = argv[at + 1];
    if (flag === '--size' || flag === '--only' || flag === '--compare') {
      if (value === undefined) return `${flag} needs a value`;
      at++;
      if (flag === '--size') {
        if (!(SIZES as readonly string[]).includes(value)) {
          return `--size is one of ${SIZES.join(', ')}, not ${value}`;
        }
        size = value as BenchSize;
      } else if (flag === '--only') {
        only = value.split(',').filter((name) => name !== '');
        const unknown = only.filter((name) => !BENCHES.some((bench) => bench.name === name));
        if (unknown.length > 0) {
          return `--only: no bench named ${unknown.join(', ')}; the benches are ${BENCHES.map((b) => b.name).join(', ')}`;
        }
      } else {
        compare = value;
      }
    } else {
      return `unknown argument ${flag}; usage: npm run bench -- [--size small|medium|full] [--only a,b] [--compare older.json]`;
    }
  }
  return { size, only, compare };
}

async function main(argv: readonly string[]): Promise<number> {
  const options = parseOptions(argv);
  if (typeof options === 'string') {
    process.stderr.write(`${options}\n`);
    return 2;
  }
  // Read first: a typo in --compare should not cost a whole run.
  const older = options.compare === undefined ? undefined : await readResultDocument(options.compare);
  const selected = BENCHES.filter((bench) => options.only?.includes(bench.name) ?? true);
  const createdAt = new Date().toISOString();
  const machine = machineFacts();
  process.stderr.write(
    `bench: ${selected.length} benches at size ${options.size}; ${machine.cores} cores, ` +
      `${machine.memoryGb} GB, Node ${machine.node}, commit ${machine.commit ?? 'unknown'}${machine.dirty ? ' (with changes)' : ''}\n`,
  );
  const runs: BenchRun[] = [];
  const rows: BenchRow[] = [];
  for (const [index, bench] of selected.entries()) {
    const args = bench.sizes[options.size];
    const shown = args.length === 0 ? '(its own defaults)' : args.join(' ');
    process.stderr.write(`\n[${index + 1}/${selected.length}] ${bench.name} ${shown}\n`);
    const result = await runBench(bench.name, path.join(BENCH_DIR, bench.script), args, {
      output: (line) => process.stderr.write(`  ${line}\n`),
    });
    runs.push(result.run);
    rows.push(...result.rows);
    const ended =
      result.run.status === 'passed'
        ? `done in ${result.run.seconds.toFixed(0)} s, ${result.rows.length} figure(s)`
        : `FAILED with exit code ${result.run.exitCode ?? result.run.signal} after ${result.run.seconds.toFixed(0)} s`;
    process.stderr.write(`[${index + 1}/${selected.length}] ${bench.name}: ${ended}\n`);
  }
  const document: ResultDocument = { createdAt, size: options.size, machine, runs, rows };
  const file = await writeResultDocument(path.join(BENCH_DIR, 'results'), document);
  process.stdout.write(`\n${renderResultTable(document)}\n`);
  if (older !== undefined && options.compare !== undefined) {
    const label = path.basename(options.compare);
    process.stdout.write(`\nagainst ${label}:\n${renderComparison(ratioChanges(document, older), label)}\n`);
  }
  process.stdout.write(`\nresults written to ${path.relative(process.cwd(), file)}\n`);
  return runs.some((run) => run.status === 'failed') ? 1 : 0;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
