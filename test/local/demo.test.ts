import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDdbLake } from '../support/run-cli.ts';

describe('npm run demo (ddb-lake demo)', () => {
  let output: string;
  beforeAll(async () => {
    output = await mkdtemp(join(tmpdir(), 'ddb-lake-demo-'));
  });
  afterAll(async () => {
    await rm(output, { recursive: true, force: true });
  });

  it('runs end to end at a small size, twice, and every exported item equals the item written', async () => {
    for (let run = 1; run <= 2; run++) {
      const demo = await runDdbLake(['demo', '--items', '500', '--output', output, '--json']);
      expect(demo.stderr).not.toContain('error');
      expect(demo.code).toBe(0);
      const report = JSON.parse(demo.stdout);
      expect(report.equal).toBe(true);
      expect(report.items).toBe(500);
      const columns = new Map(
        report.schema.columns.map((c: { name: string; lakeType: unknown }) => [c.name, c.lakeType]),
      );
      expect(columns.get('qty')).toEqual({ kind: 'bigint' });
      expect(columns.get('ledger')).toEqual({ kind: 'decimal', precision: 38, scale: 0 });
      expect(columns.get('sig')).toEqual({ kind: 'binary' });
      // The second run replaces the first: one export in the landing area.
      expect(await readdir(join(output, 'landing', 'AWSDynamoDB'))).toEqual([report.exportId]);
    }
  });
});
