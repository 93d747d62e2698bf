import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { type BenchFigure, type BenchRow, benchRows } from '../../bench/results.ts';
import {
  type BenchRun,
  goalMet,
  type MachineFacts,
  type ResultDocument,
  ratioChanges,
  readResultDocument,
  renderComparison,
  renderResultTable,
  resultFileName,
  writeResultDocument,
} from '../../bench/results-table.ts';

let folder: string;
beforeEach(async () => {
  folder = await mkdtemp(path.join(os.tmpdir(), 'ddb-lake-bench-table-'));
});
afterEach(async () => {
  await rm(folder, { recursive: true, force: true });
});

const machine: MachineFacts = {
  cores: 2,
  cpuModel: 'test cpu',
  memoryGb: 8,
  platform: 'linux',
  arch: 'x64',
  node: 'v22.23.3',
  commit: '0123456789abcdef0123456789abcdef01234567',
  dirty: false,
};

const passed = (bench: string): BenchRun => ({
  bench,
  status: 'passed',
  exitCode: 0,
  seconds: 12,
  args: ['--rows', '1000'],
  stderrTail: [],
});

const scanFigure: BenchFigure = {
  metric: 'Scan export vs plain Scan',
  unit: 'items/s',
  ours: 9000,
  baseline: 10_000,
  better: 'higher',
  goal: { on: 'ratio', value: 0.9 },
};
const mergeFigure: BenchFigure = {
  metric: 'batch of 1000 changes vs MERGE INTO',
  unit: 's',
  ours: 4,
  baseline: 1,
  better: 'lower',
  goal: { on: 'ratio', value: 3 },
  peakRssMb: 512,
};

function document(createdAt: string, rows: BenchRow[], runs: BenchRun[]): ResultDocument {
  return { createdAt, size: 'small', machine, runs, rows };
}

describe('the result table', () => {
  test('shows each figure with its unit, the ratio, the goal met or not, and the peak RSS', () => {
    const rows = [
      ...benchRows('scan-export', { items: 5000 }, [scanFigure]),
      ...benchRows('apply-merge', { items: 20_000 }, [mergeFigure]),
    ];
    const table = renderResultTable(
      document('2026-11-24T10:00:00.000Z', rows, [passed('scan-export'), passed('apply-merge')]),
    );
    const lines = table.split('\n');
    expect(lines[0]).toMatch(/^bench\s+metric\s+ours\s+baseline\s+ratio\s+goal\s+peak RSS$/);
    const scan = lines.find((line) => line.startsWith('scan-export')) ?? '';
    expect(scan).toContain('9,000 items/s');
    expect(scan).toContain('10,000 items/s');
    expect(scan).toContain('0.90 (higher is better)');
    expect(scan).toContain('ratio ≥ 0.90: met');
    const merge = lines.find((line) => line.startsWith('apply-merge')) ?? '';
    expect(merge).toContain('4.00 s');
    expect(merge).toContain('4.00 (lower is better)');
    expect(merge).toContain('ratio ≤ 3.00: NOT met');
    expect(merge).toMatch(/512 MB$/);
    // Every line of the table is as wide as its header's columns: the columns line up.
    expect(lines[1]?.length).toBe(Math.max(...lines.map((line) => line.length)));
  });

  test('a ratio below 0.1 (a share) and its goal keep two significant digits instead of reading 0.00', () => {
    const rows = benchRows('apply-merge', { items: 500_000 }, [
      {
        metric: 'batch of 1000 changes: bytes written / table bytes',
        unit: 'MB',
        ours: 0.21,
        baseline: 50,
        better: 'lower',
        goal: { on: 'ratio', value: 0.01 },
      },
    ]);
    const line =
      renderResultTable(document('2026-11-24T10:00:00.000Z', rows, [passed('apply-merge')]))
        .split('\n')
        .find((text) => text.startsWith('apply-merge')) ?? '';
    expect(line).toContain('0.0042 (lower is better)');
    expect(line).toContain('ratio ≤ 0.010: met');
  });

  test('a failed bench is a line with its exit code, and its last stderr lines follow the table', () => {
    const failed: BenchRun = {
      bench: 'apply-load',
      status: 'failed',
      exitCode: 1,
      seconds: 3,
      args: [],
      stderrTail: ['Error: the export is incomplete', '    at main (bench/apply-load.ts:140:11)'],
    };
    const rows = benchRows('scan-export', {}, [scanFigure]);
    const table = renderResultTable(
      document('2026-11-24T10:00:00.000Z', rows, [passed('scan-export'), failed, passed('delta-write')]),
    );
    expect(table).toMatch(/^apply-load\s+FAILED \(exit code 1\) after 3 s$/m);
    expect(table).toMatch(/^delta-write\s+passed but reported no figures$/m);
    expect(table).toContain(
      'apply-load (exit code 1), last stderr lines:\n  Error: the export is incomplete\n',
    );
    // The rows keep the order the benches ran in.
    expect(table.indexOf('scan-export')).toBeLessThan(table.indexOf('apply-load'));
  });

  test('a goal on our own figure is judged on it, not on the ratio', () => {
    const [row] = benchRows('capture-handler', {}, [
      {
        metric: 'peak RSS',
        unit: 'MiB',
        ours: 130,
        baseline: 200,
        better: 'lower',
        goal: { on: 'ours', value: 128 },
      },
    ]);
    expect(row?.ratio).toBe(0.65);
    expect(goalMet(row as BenchRow)).toBe(false);
    expect(
      renderResultTable(document('2026-11-24T10:00:00.000Z', [row as BenchRow], [passed('capture-handler')])),
    ).toContain('ours ≤ 128 MiB: NOT met');
  });
});

describe('the result file', () => {
  test('is written under a sortable name of its start time and reads back equal', async () => {
    const rows = benchRows('scan-export', { items: 5000 }, [scanFigure]);
    const written = document('2026-11-24T09:05:07.123Z', rows, [passed('scan-export')]);
    const file = await writeResultDocument(path.join(folder, 'results'), written);
    expect(path.basename(file)).toBe('2026-11-24_09-05-07.json');
    expect(await readdir(path.join(folder, 'results'))).toEqual(['2026-11-24_09-05-07.json']);
    expect(await readResultDocument(file)).toEqual(written);
    expect(
      resultFileName(new Date('2026-01-02T03:04:05Z')) < resultFileName(new Date('2026-01-02T03:04:06Z')),
    ).toBe(true);
  });

  test('is laid out as the project formatter lays it out, so that a run leaves `npm run lint` clean', async () => {
    const failed: BenchRun = {
      bench: 'apply-merge',
      status: 'failed',
      exitCode: 1,
      seconds: 3,
      args: ['--items', '20000', '--batches', '100,1000'],
      stderrTail: [
        'Error: after 1000 changes the Delta table (1000 / 123) and the native table (1000 / 456) differ',
        '    at main (file:///work/main/bench/apply-merge.ts:270:15)',
      ],
    };
    const longArgs = Array.from({ length: 12 }, (_, i) => `--option-${i}`);
    const written = document(
      '2026-11-24T09:05:07.123Z',
      benchRows('apply-merge', { items: 20_000, batches: '100,1000' }, [mergeFigure]),
      [{ ...passed('scan-export'), args: longArgs }, failed],
    );
    const file = await writeResultDocument(folder, written);
    const text = await readFile(file, 'utf8');
    const formatted = spawnSync(
      path.resolve('node_modules/.bin/biome'),
      ['format', '--stdin-file-path=bench/results/run.json'],
      { input: text, encoding: 'utf8' },
    );
    expect(formatted.status, formatted.stderr).toBe(0);
    expect(formatted.stdout).toBe(text);
    // Both layouts of an array occur: inline when it fits, one value a line when it does not.
    expect(text).toContain('"args": ["--items", "20000", "--batches", "100,1000"]');
    expect(text).toContain('"args": [\n        "--option-0",');
  });

  test('a file that is not a result file is refused naming it', async () => {
    const file = path.join(folder, 'other.json');
    await writeFile(file, '{"rows": []}');
    await expect(readResultDocument(file)).rejects.toThrow(`${file} is not a bench result file`);
  });
});

describe('comparing two runs', () => {
  test('each ratio is shown before and after, judged by its direction, new and missing rows named', async () => {
    const olderFile = await writeResultDocument(
      folder,
      document(
        '2026-11-20T08:00:00.000Z',
        [
          ...benchRows('scan-export', { items: 5000 }, [{ ...scanFigure, ours: 8000 }]),
          ...benchRows('apply-merge', { items: 20_000 }, [{ ...mergeFigure, ours: 2 }]),
          ...benchRows('delta-write', { rows: 100 }, [
            { metric: 'write', unit: 'rows/s', ours: 10, baseline: 10, better: 'higher' },
          ]),
        ],
        [passed('scan-export'), passed('apply-merge'), passed('delta-write')],
      ),
    );
    const current = document(
      '2026-11-24T08:00:00.000Z',
      [
        ...benchRows('scan-export', { items: 5000 }, [scanFigure]),
        ...benchRows('apply-merge', { items: 200_000 }, [mergeFigure]),
        ...benchRows('export-read', {}, [
          { metric: 'read', unit: 's', ours: 1, baseline: 1, better: 'lower' },
        ]),
      ],
      [passed('scan-export'), passed('apply-merge'), passed('export-read')],
    );
    const older = await readResultDocument(olderFile);
    const changes = ratioChanges(current, older);
    expect(changes.map((c) => [c.bench, c.before, c.after, c.sameParameters])).toEqual([
      ['scan-export', 0.8, 0.9, true],
      ['apply-merge', 2, 4, false],
      ['export-read', undefined, 1, false],
      ['delta-write', 1, undefined, false],
    ]);
    const lines = renderComparison(changes, path.basename(olderFile)).split('\n');
    expect(lines[0]).toContain('ratio in 2026-11-20_08-00-00.json');
    expect(lines.find((line) => line.startsWith('scan-export'))).toMatch(
      /0\.80\s+0\.90\s+\+12\.5 %\s+better$/,
    );
    expect(lines.find((line) => line.startsWith('apply-merge'))).toMatch(
      /2\.00\s+4\.00\s+\+100\.0 %\s+worse \(measured with other parameters\)$/,
    );
    expect(lines.find((line) => line.startsWith('export-read'))).toMatch(/none\s+1\.00\s+new$/);
    expect(lines.find((line) => line.startsWith('delta-write'))).toMatch(/1\.00\s+none\s+not in this run$/);
  });

  test('a change under 2 % reads as the same', () => {
    const at = (ours: number) =>
      document('2026-11-24T08:00:00.000Z', benchRows('delta-write', {}, [{ ...scanFigure, ours }]), [
        passed('delta-write'),
      ]);
    const lines = renderComparison(ratioChanges(at(9100), at(9000)), 'old.json').split('\n');
    expect(lines[2]).toMatch(/0\.90\s+0\.91\s+\+1\.1 %\s+same$/);
  });
});
