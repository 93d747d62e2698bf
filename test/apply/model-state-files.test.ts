import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangeReduction } from '../../src/apply/changes/change-reduction.ts';
import {
  encodeTombstones,
  readTombstones,
  type Tombstone,
  tombstonesKey,
  tombstonesOf,
  writeTombstones,
} from '../../src/apply/changes/tombstones.ts';
import {
  listQuarantine,
  QuarantineWriter,
  quarantineFolder,
  readQuarantine,
  writeQuarantine,
} from '../../src/apply/inputs/quarantine.ts';
import type { BadLine } from '../../src/formats/bad-line.ts';
import { StateFileError } from '../../src/lake/model-errors.ts';
import { paddedSeq } from '../../src/lake/sequence-number.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';

let folder: string;
let n = 0;
const freshStore = (): { store: LocalFolderStore; root: string } => {
  const root = path.join(folder, `table-${++n}`);
  return { store: new LocalFolderStore(root), root };
};

beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'ddb-lake-model-state-'));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

const stone = (
  key: string,
  seq: string,
  source: Tombstone['order']['source'] = 'stream',
  ts = 1n,
): Tombstone => ({
  key,
  order: { source, seq: paddedSeq(seq), tsMicros: ts },
});

describe('tombstones', () => {
  it('writes the deletes of a batch to its file, sorted, with the same bytes whatever the order', async () => {
    const { store, root } = freshStore();
    const fold = new ChangeReduction({ keys: { partition: 'pk' }, buckets: 16, exportTime: 0, marginMs: 0 });
    fold.addStreamRecord({
      op: 'REMOVE',
      keys: { pk: { S: 'b' } },
      new: null,
      old: null,
      seq: '200000000000000000000',
      shard: 's',
      ts: 5,
      ttl: true,
      eventId: 'e1',
    });
    fold.addStreamRecord({
      op: 'REMOVE',
      keys: { pk: { S: 'a' } },
      new: null,
      old: null,
      seq: '100000000000000000000',
      shard: 's',
      ts: 4,
      ttl: false,
      eventId: 'e2',
    });
    fold.addStreamRecord({
      op: 'INSERT',
      keys: { pk: { S: 'c' } },
      new: { pk: { S: 'c' } },
      old: null,
      seq: '300000000000000000000',
      shard: 's',
      ts: 6,
      ttl: false,
      eventId: 'e3',
    });
    const tombstones = tombstonesOf(fold.winners());
    expect(tombstones.map((t) => t.key)).toEqual(expect.arrayContaining(['{"pk":"a"}', '{"pk":"b"}']));
    expect(await writeTombstones(store, 7, tombstones)).toBe(2);

    const file = path.join(root, tombstonesKey(7));
    expect(tombstonesKey(7)).toBe('_ddb_lake/apply/tombstones/00000000000000000007.jsonl.gz');
    const bytes = await readFile(file);
    expect(gunzipSync(bytes).toString('utf8')).toBe(
      `{"key":"{\\"pk\\":\\"a\\"}","seq":"${paddedSeq('100000000000000000000')}","source":"stream","ts":"4000"}\n` +
        `{"key":"{\\"pk\\":\\"b\\"}","seq":"${paddedSeq('200000000000000000000')}","source":"stream","ts":"5000"}\n`,
    );
    expect(Buffer.from(encodeTombstones([...tombstones].reverse())).equals(bytes)).toBe(true);
  });

  it('writes nothing for a batch without deletes', async () => {
    const { store, root } = freshStore();
    expect(await writeTombstones(store, 1, [])).toBe(0);
    await expect(readdir(root)).rejects.toThrow();
  });

  it('reads the newest tombstone of each asked key across batches, and only batches before the given one', async () => {
    const { store } = freshStore();
    await writeTombstones(store, 1, [stone('k1', '5'), stone('k2', '9'), stone('other', '1')]);
    await writeTombstones(store, 2, [stone('k1', '7')]);
    await writeTombstones(store, 3, [stone('k1', '8'), stone('k2', '100', 'incremental-export', 100n)]);
    const all = await readTombstones(store, new Set(['k1', 'k2', 'absent']));
    expect([...all.keys()].sort()).toEqual(['k1', 'k2']);
    expect(all.get('k1')?.order.seq).toBe(paddedSeq('8'));
    // An incremental-export delete at 100 µs against a stream delete (ts 1 µs): the later time wins.
    expect(all.get('k2')?.order).toEqual({
      source: 'incremental-export',
      seq: paddedSeq('100'),
      tsMicros: 100n,
    });
    const before3 = await readTombstones(store, new Set(['k1']), { before: 3 });
    expect(before3.get('k1')?.order.seq).toBe(paddedSeq('7'));
    expect((await readTombstones(store, new Set())).size).toBe(0);
  });

  it('refuses a damaged tombstone line, naming the file and line', async () => {
    const { store } = freshStore();
    const { gzipSync } = await import('node:zlib');
    await store.put(tombstonesKey(4), gzipSync('{"key":"k","seq":"12","source":"stream","ts":"1"}\n'));
    const error = await readTombstones(store, new Set(['k'])).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StateFileError);
    expect((error as Error).message).toContain('00000000000000000004.jsonl.gz line 1');
  });
});

describe('quarantine', () => {
  const bad = (line: number, extra: Partial<BadLine> = {}): BadLine => ({
    file: 'changes/orders/dt=2026-11-23/shardId-1/1-2.jsonl.gz',
    line,
    reason: 'seq must be 1 to 40 decimal digits as a string, not "x"',
    text: `{"op":"MODIFY","seq":"x","n":${line}}`,
    ...extra,
  });

  it('writes bad lines with file, line, reason, path and text, and reads them back in order', async () => {
    const { store, root } = freshStore();
    const summary = await writeQuarantine(store, 3, [
      bad(1, { path: 'seq' }),
      bad(2),
      bad(10, { text: 'not json at all ✓' }),
    ]);
    expect(summary).toMatchObject({
      batch: 3,
      count: 3,
      files: ['_ddb_lake/quarantine/apply/00000000000000000003/000001.jsonl'],
    });
    const text = await readFile(path.join(root, summary.files[0] as string), 'utf8');
    expect(text.split('\n')[0]).toBe(
      JSON.stringify({ file: bad(1).file, line: 1, reason: bad(1).reason, path: 'seq', text: bad(1).text }),
    );
    const back = [];
    for await (const line of readQuarantine(store, 3)) back.push(line);
    expect(back.map(({ quarantineFile, quarantineLine, ...rest }) => rest)).toEqual([
      bad(1, { path: 'seq' }),
      bad(2),
      bad(10, { text: 'not json at all ✓' }),
    ]);
    expect(back[2]?.quarantineLine).toBe(3);
  });

  it('splits large quarantines into numbered files and replaces an earlier attempt of the batch', async () => {
    const { store } = freshStore();
    const writer = new QuarantineWriter(store, 5, { linesPerFile: 2 });
    for (let i = 1; i <= 5; i++) await writer.add(bad(i));
    const first = await writer.close();
    expect(first.files.map((f) => f.slice(quarantineFolder(5).length))).toEqual([
      '000001.jsonl',
      '000002.jsonl',
      '000003.jsonl',
    ]);
    await expect(writer.add(bad(6))).rejects.toThrow(/closed/);

    const again = new QuarantineWriter(store, 5, { linesPerFile: 2 });
    await again.add(bad(1));
    await again.close();
    const lines = [];
    for await (const line of readQuarantine(store, 5)) lines.push(line.line);
    expect(lines).toEqual([1]);

    await writeQuarantine(store, 2, [bad(9)]);
    expect(await listQuarantine(store)).toEqual([
      { batch: 2, folder: quarantineFolder(2), files: [`${quarantineFolder(2)}000001.jsonl`] },
      { batch: 5, folder: quarantineFolder(5), files: [`${quarantineFolder(5)}000001.jsonl`] },
    ]);
  });

  it('leaves no files for a batch without bad lines and reads nothing back', async () => {
    const { store } = freshStore();
    const summary = await writeQuarantine(store, 1, []);
    expect(summary.count).toBe(0);
    expect(await listQuarantine(store)).toEqual([]);
    const lines = [];
    for await (const line of readQuarantine(store, 1)) lines.push(line);
    expect(lines).toEqual([]);
  });

  it('refuses a quarantine line that is not a quarantined record', async () => {
    const { store } = freshStore();
    await store.put(`${quarantineFolder(1)}000001.jsonl`, '{"file":"x"}\n');
    const read = async (): Promise<void> => {
      for await (const _ of readQuarantine(store, 1)) {
        // drain
      }
    };
    await expect(read()).rejects.toThrow(StateFileError);
  });
});
