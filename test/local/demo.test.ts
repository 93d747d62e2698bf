import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { readLakeItems } from '../apply/support/lake-items.ts';
import { runDdbLake } from '../support/run-cli.ts';

/*
 * `npm run demo` end to end at a small size, as CI runs it. DynamoDB Local is stopped when the demo
 * returns, so the outcome is checked on what it reports and on the folders it leaves: the Delta table
 * read back through DuckDB, its log, and the landing area.
 */

async function filesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

async function deltaVersions(delta: string): Promise<number[]> {
  return (await readdir(join(delta, '_delta_log')))
    .filter((name) => /^\d{20}\.json$/.test(name))
    .map((name) => Number(name.slice(0, 20)))
    .sort((a, b) => a - b);
}

/** What version 0 of the Delta table says: its protocol and its table id. */
async function createdTable(
  delta: string,
): Promise<{ protocol?: { readerFeatures?: string[] }; tableId?: string }> {
  const text = await readFile(join(delta, '_delta_log', `${'0'.repeat(20)}.json`), 'utf8');
  const actions = text
    .split('\n')
    .filter((line) => line !== '')
    .map(
      (line) => JSON.parse(line) as { protocol?: { readerFeatures?: string[] }; metaData?: { id: string } },
    );
  const protocol = actions.find((action) => action.protocol !== undefined)?.protocol;
  const tableId = actions.find((action) => action.metaData !== undefined)?.metaData?.id;
  return { ...(protocol === undefined ? {} : { protocol }), ...(tableId === undefined ? {} : { tableId }) };
}

/** The live rows of the Delta table, as plain JSON items. */
async function liveLakeItems(delta: string): Promise<unknown[]> {
  const store = new LocalFolderStore(delta);
  try {
    const lake = await readLakeItems(store);
    expect(lake.problems).toEqual([]);
    return [...lake.items.values()].map((item) => JSON.parse(item));
  } finally {
    await store.close();
  }
}

async function liveLakeRows(delta: string): Promise<number> {
  return (await liveLakeItems(delta)).length;
}

describe('npm run demo (ddb-lake demo)', () => {
  let output: string;
  beforeAll(async () => {
    output = await mkdtemp(join(tmpdir(), 'ddb-lake-demo-'));
  });
  afterAll(async () => {
    await rm(output, { recursive: true, force: true });
  });

  it('backfills while writes go on, applies batch after batch, verify finds the lake equal; a second run into the same folder replaces the first', {
    timeout: 330_000,
  }, async () => {
    const first = await runDdbLake(['demo', '--items', '2000', '--output', output, '--json']);
    expect(first.stderr).not.toMatch(/error/i);
    expect(first.code).toBe(0);
    const report = JSON.parse(first.stdout);
    const delta = join(output, 'delta', 'orders');
    const landing = join(output, 'landing');
    expect(report.delta).toBe(delta);
    expect(report.landing).toBe(landing);

    // Verify's verdict, and the Delta table on disk agrees with it: one live row per item the
    // table held at the end, which is also what the workload's own count of live orders says.
    expect(report.equal).toBe(true);
    expect(report.verify).toMatchObject({ equal: true, missing: 0, extra: 0, different: 0 });
    expect(report.verify.tableItems).toBe(report.workload.liveOrders);
    const lakeItems = (await liveLakeItems(delta)) as Record<string, unknown>[];
    expect(lakeItems).toHaveLength(report.verify.tableItems);

    // Empty maps and lists, written by the history and by the workload's updates (SET to empty,
    // REMOVE of a map's last member), went through the stream with their tags: capture refused
    // nothing, and the lake holds them.
    const quarantined = (await filesUnder(output)).filter((file) => file.includes('/quarantine/'));
    expect(quarantined).toEqual([]);
    const withValue = (name: string, value: unknown) =>
      lakeItems.filter((item) => JSON.stringify(item[name]) === JSON.stringify(value)).length;
    expect(withValue('prefs', {})).toBeGreaterThan(0);
    expect(withValue('history', [])).toBeGreaterThan(0);
    expect(lakeItems.filter((item) => JSON.stringify(item['meta']).includes('"extra":[{},[]]'))).not.toEqual(
      [],
    );

    // The history and the workload: the backfill read the history and what the workload had done
    // by then; the workload updated, deleted and added orders.
    expect(report.write.items).toBe(2000);
    expect(report.backfill.items).toBeGreaterThan(0);
    expect(report.workload.updated).toBeGreaterThan(0);
    expect(report.workload.deleted).toBeGreaterThan(0);
    expect(report.workload.inserted).toBeGreaterThan(0);
    expect(report.workload.liveOrders).toBe(2000 + report.workload.inserted - report.workload.deleted);

    // Batch after batch: the first loads the backfill, the later ones the changes since; each
    // applied batch is a Delta version of its own.
    const applied = report.batches.filter((batch: { outcome: string }) => batch.outcome === 'applied');
    expect(applied.length).toBeGreaterThanOrEqual(3);
    expect(applied[0]).toMatchObject({ round: 1, batch: 1 });
    expect(applied[0].inputRows).toBeGreaterThanOrEqual(report.backfill.items);
    const versions = await deltaVersions(delta);
    expect(versions.length).toBeGreaterThan(1);
    // The demo's table merges on read: created with the deletion vectors feature.
    const created = await createdTable(delta);
    expect(created.protocol?.readerFeatures).toContain('deletionVectors');
    expect(versions.at(-1)).toBe(report.batches.at(-1).version);

    // The landing area holds capture's change files and the Scan export, complete.
    const changeFiles = (await filesUnder(join(landing, 'changes', 'orders'))).filter((file) =>
      file.endsWith('.jsonl.gz'),
    );
    expect(changeFiles.length).toBe(report.capture.files);
    expect(changeFiles.length).toBeGreaterThan(0);
    expect(await readdir(join(landing, 'AWSDynamoDB'))).toEqual([report.backfill.exportId]);
    await stat(join(landing, 'AWSDynamoDB', report.backfill.exportId, 'manifest-summary.json'));

    // Again into the same folder, smaller, in human-readable form: nothing of the first run is
    // left running, and its output is replaced, not added to.
    const second = await runDdbLake(['demo', '--items', '300', '--output', output]);
    expect(second.stderr).not.toMatch(/error/i);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain('waiting for the handoff');
    const verdict = /The Delta table equals the DynamoDB table: ([\d,]+) items/.exec(second.stdout);
    expect(verdict, second.stdout).not.toBeNull();
    expect(await liveLakeRows(delta)).toBe(Number(verdict?.[1]?.replaceAll(',', '')));
    expect(second.stdout).toContain(`delta_scan('${delta}')`);
    const exports = await readdir(join(landing, 'AWSDynamoDB'));
    expect(exports).toHaveLength(1);
    expect(exports[0]).not.toBe(report.backfill.exportId);
    // A new table (another id in its version 0), its versions counted from 0 without a gap.
    expect((await createdTable(delta)).tableId).not.toBe(created.tableId);
    const replaced = await deltaVersions(delta);
    expect(replaced).toEqual(replaced.map((_, index) => index));
  });
});
