/*
 * How fast the Scan export goes, against the floor of any parallel Scan of the same table.
 *
 *   npm run bench:scan [-- --items 50000] [-- --segments <n>] [-- --rounds 3]
 *
 * Starts a DynamoDB Local, loads the sample order items (every DynamoDB type) into an on-demand
 * table, then, in the same process and alternating so that both see the same machine load, reads
 * the whole table
 *   (a) with scanExport: rate limiter (at its default, 50 % of what a new on-demand table serves),
 *       ReturnConsumedCapacity, every item converted and validated, gzip JSON lines, MD5, data files
 *       rolled and checkpointed, manifests; into a fresh temporary landing folder each round;
 *   (b) with the baseline: a plain parallel Scan loop with the same segments that only counts items;
 *   (c) with the same loop asking for ReturnConsumedCapacity TOTAL, as (a) must to measure its rate:
 *       the floor of any rate-limited Scan (DynamoDB Local spends measurable time computing it);
 * and prints items/s of the best round of each and the ratios. The goal is (a) ≥ 0.9 × (b).
 * All three share one client, configured as `ddb-lake backfill scan` configures its own: without
 * the SDK's logger middleware (see withoutSdkLogging), which otherwise dominates both sides' CPU.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { scanExport } from '../src/backfill/scan-export.ts';
import { withoutSdkLogging } from '../src/backfill/sdk-logging.ts';
import { createOrdersTable, putItems } from '../src/local/orders-table.ts';
import { sampleOrders } from '../src/local/sample-orders.ts';
import { startLocalStack } from '../src/local/stack.ts';
import { LocalFolderStore } from '../src/storage/local-folder-store.ts';
import { recordBenchResults } from './results.ts';

const TABLE = 'bench-orders';

interface Round {
  readonly items: number;
  readonly seconds: number;
}

/** (a) The Scan export, as `ddb-lake backfill scan` runs it. */
async function withScanExport(client: DynamoDBClient, segments: number): Promise<Round> {
  const folder = await mkdtemp(path.join(tmpdir(), 'ddb-lake-bench-scan-'));
  try {
    const started = performance.now();
    const result = await scanExport({
      client,
      table: TABLE,
      landing: new LocalFolderStore(folder),
      segments,
      resume: 'none',
    });
    return { items: result.summary.itemCount, seconds: (performance.now() - started) / 1000 };
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/** (b) The floor: the same segments scanned in parallel, items only counted; (c) with consumed capacity. */
async function withPlainScan(
  client: DynamoDBClient,
  segments: number,
  consumedCapacity = false,
): Promise<Round> {
  const started = performance.now();
  const counts = await Promise.all(
    Array.from({ length: segments }, async (_, segment) => {
      let items = 0;
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await client.send(
          new ScanCommand({
            TableName: TABLE,
            Segment: segment,
            TotalSegments: segments,
            ExclusiveStartKey: startKey as never,
            ...(consumedCapacity ? { ReturnConsumedCapacity: 'TOTAL' } : {}),
          }),
        );
        items += page.Items?.length ?? 0;
        startKey = page.LastEvaluatedKey;
      } while (startKey !== undefined);
      return items;
    }),
  );
  return { items: counts.reduce((a, b) => a + b, 0), seconds: (performance.now() - started) / 1000 };
}

function row(name: string, best: Round): string {
  const perSecond = Math.round(best.items / best.seconds).toLocaleString('en-US');
  return `${name.padEnd(46)} ${best.items.toLocaleString('en-US').padStart(8)} items  ${best.seconds.toFixed(2).padStart(6)} s  ${perSecond.padStart(8)} items/s`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string, fallback: number): number => {
    const at = args.indexOf(name);
    return at >= 0 ? Number(args[at + 1]) : fallback;
  };
  const itemCount = option('--items', 50_000);
  const segments = option('--segments', availableParallelism());
  const rounds = option('--rounds', 3);

  const stack = await startLocalStack({ s3: false });
  try {
    const client = withoutSdkLogging(stack.dynamoDbClient());
    await createOrdersTable(client, TABLE);
    const started = performance.now();
    await putItems(client, TABLE, sampleOrders(itemCount, 20261124));
    console.log(
      `DynamoDB Local: ${itemCount.toLocaleString('en-US')} sample items loaded in ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
        `${segments} segments; best of ${rounds} rounds (after one warm-up round of each)`,
    );
    await withPlainScan(client, segments);
    await withScanExport(client, segments);
    const ours: Round[] = [];
    const baseline: Round[] = [];
    const measured: Round[] = [];
    for (let round = 0; round < rounds; round++) {
      ours.push(await withScanExport(client, segments));
      baseline.push(await withPlainScan(client, segments));
      measured.push(await withPlainScan(client, segments, true));
    }
    const best = (results: Round[]): Round => results.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const a = best(ours);
    const b = best(baseline);
    const c = best(measured);
    if (a.items !== itemCount || b.items !== itemCount || c.items !== itemCount) {
      throw new Error(`expected ${itemCount} items; (a) read ${a.items}, (b) ${b.items}, (c) ${c.items}`);
    }
    console.log(row('(a) scanExport (limit, convert, gzip, MD5, files)', a));
    console.log(row('(b) plain parallel Scan loop (count only)', b));
    console.log(row('(c) the same loop with ReturnConsumedCapacity', c));
    const ratio = (x: Round, y: Round) => (x.items / x.seconds / (y.items / y.seconds)).toFixed(2);
    console.log(
      `ratio (a)/(b) items/s: ${ratio(a, b)} (goal ≥ 0.90); (a)/(c): ${ratio(a, c)}; (c)/(b): ${ratio(c, b)}`,
    );
    const perSecond = (x: Round) => x.items / x.seconds;
    recordBenchResults('scan-export', { items: itemCount, segments, rounds }, [
      {
        metric: 'Scan export vs plain parallel Scan',
        unit: 'items/s',
        ours: perSecond(a),
        baseline: perSecond(b),
        better: 'higher',
        goal: { on: 'ratio', value: 0.9 },
      },
      {
        metric: 'Scan export vs Scan with ReturnConsumedCapacity',
        unit: 'items/s',
        ours: perSecond(a),
        baseline: perSecond(c),
        better: 'higher',
      },
    ]);
  } finally {
    await stack.stop();
  }
}

await main();
