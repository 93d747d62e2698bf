/*
 * The structured form of a benchmark's figures, shared by every bench/*.ts script and the runner
 * (bench/run-all.ts). A script prints its own lines as before and, at its end, hands its figures
 * to recordBenchResults; when DDB_LAKE_BENCH_RESULT names a file, they are appended there as JSON
 * lines (one row per figure), which is how the runner collects them from its child processes.
 */
import { appendFileSync, readFileSync } from 'node:fs';

/** The environment variable naming the JSON-lines file the rows are appended to. */
export const BENCH_RESULT_ENV = 'DDB_LAKE_BENCH_RESULT';

/** A threshold the bench was asked to meet: on the ratio, or on our own figure (in `unit`). */
export interface BenchGoal {
  readonly on: 'ratio' | 'ours';
  /** Met when the value is ≥ this (`better: 'higher'`) or ≤ this (`better: 'lower'`). */
  readonly value: number;
}

/** One figure as a bench reports it: ours and the baseline measured in the same run. */
export interface BenchFigure {
  readonly metric: string;
  /** The unit of `ours` and `baseline` (`rows/s`, `s`, `ms`, `MB`). */
  readonly unit: string;
  readonly ours: number;
  readonly baseline: number;
  /** Which direction of `ours` (and so of `ours / baseline`) is the better one. */
  readonly better: 'higher' | 'lower';
  readonly goal?: BenchGoal;
  /** Peak RSS the bench measured around our side alone, in MB (10^6 bytes), when it samples one. */
  readonly peakRssMb?: number;
  readonly notes?: string;
}

/** One row of a result file. */
export interface BenchRow {
  readonly bench: string;
  readonly metric: string;
  readonly unit: string;
  readonly ours: number;
  readonly baseline: number;
  /** `ours / baseline`, in the metric's unit; read it with `better`. */
  readonly ratio: number;
  readonly better: 'higher' | 'lower';
  readonly goal?: BenchGoal;
  /** The figure's own peak RSS when the bench samples one, otherwise the process's peak so far; MB. */
  readonly peakRssMb: number;
  /** The process's peak RSS when the row was recorded (process.resourceUsage().maxRSS), MB. */
  readonly processPeakRssMb: number;
  readonly parameters: Readonly<Record<string, string | number | boolean>>;
  readonly notes?: string;
}

/** The process's peak resident set size so far, in MB (10^6 bytes). */
export function processPeakRssMb(): number {
  // maxRSS is in kibibytes.
  return (process.resourceUsage().maxRSS * 1024) / 1e6;
}

/**
 * Builds the rows of `bench` from its figures, with the ratio and the peak memory filled in.
 * Pure apart from reading the process's peak RSS; throws when a figure is not a finite positive
 * baseline (a ratio against zero means the bench measured nothing).
 */
export function benchRows(
  bench: string,
  parameters: Readonly<Record<string, string | number | boolean>>,
  figures: readonly BenchFigure[],
): BenchRow[] {
  const processPeak = processPeakRssMb();
  return figures.map((figure) => {
    if (!Number.isFinite(figure.ours) || !Number.isFinite(figure.baseline) || figure.baseline <= 0) {
      throw new Error(
        `${bench}: the figure "${figure.metric}" has ours ${figure.ours} and baseline ${figure.baseline}; ` +
          'both must be finite and the baseline positive',
      );
    }
    return {
      bench,
      metric: figure.metric,
      unit: figure.unit,
      ours: figure.ours,
      baseline: figure.baseline,
      ratio: figure.ours / figure.baseline,
      better: figure.better,
      ...(figure.goal === undefined ? {} : { goal: figure.goal }),
      peakRssMb: figure.peakRssMb ?? processPeak,
      processPeakRssMb: processPeak,
      parameters,
      ...(figure.notes === undefined ? {} : { notes: figure.notes }),
    };
  });
}

/**
 * Reports a bench's figures: when DDB_LAKE_BENCH_RESULT names a file, appends one JSON line per
 * figure to it (creating it if needed); otherwise does nothing, so a bench run by hand prints
 * exactly what it printed before. Call once, at the end of the bench. Throws what benchRows throws
 * and when the file cannot be written.
 */
export function recordBenchResults(
  bench: string,
  parameters: Readonly<Record<string, string | number | boolean>>,
  figures: readonly BenchFigure[],
): void {
  const file = process.env[BENCH_RESULT_ENV];
  if (file === undefined || file === '') return;
  const rows = benchRows(bench, parameters, figures);
  if (rows.length === 0) return;
  appendFileSync(file, rows.map((row) => `${JSON.stringify(row)}\n`).join(''));
}

/**
 * The rows of a JSON-lines result file, in the order they were appended; [] when the file does
 * not exist. Throws naming the file and line when a line is not a row.
 */
export function readBenchRows(file: string): BenchRow[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const rows: BenchRow[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (error) {
      throw new Error(`${file}:${index + 1} is not JSON: ${(error as Error).message}`);
    }
    if (!isBenchRow(row)) throw new Error(`${file}:${index + 1} is not a bench result row: ${line}`);
    rows.push(row);
  }
  return rows;
}

function isBenchRow(value: unknown): value is BenchRow {
  if (typeof value !== 'object' || value === null) return false;
  const row = value as Record<string, unknown>;
  return (
    typeof row['bench'] === 'string' &&
    typeof row['metric'] === 'string' &&
    typeof row['unit'] === 'string' &&
    typeof row['ours'] === 'number' &&
    typeof row['baseline'] === 'number' &&
    typeof row['ratio'] === 'number' &&
    (row['better'] === 'higher' || row['better'] === 'lower') &&
    typeof row['peakRssMb'] === 'number'
  );
}
