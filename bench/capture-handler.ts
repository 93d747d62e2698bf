/*
 * What the capture handler costs, against the floor of any writer of the same change files.
 *
 *   npm run bench:capture [-- --records 10000] [-- --rounds 5]
 *
 * Builds a Lambda batch of sample orders (every DynamoDB type; 60% INSERT, 30% MODIFY with both
 * images, 10% REMOVE), parsed from JSON text as the Lambda runtime hands it over. Then, in the same
 * process and alternating so that both see the same machine load:
 *   (a) captureBatch into a local folder store: map, validate every value, encode, gzip, put;
 *   (b) the baseline: JSON.stringify of each record, join, gzip at the same level, nothing else;
 *   (c) the baseline plus the same put, to show what the file system adds to both;
 * and prints records/s of the best round of each and the ratio (a)/(b).
 *
 * Peak memory: a batch as large as Lambda sends (6 MB of event JSON) is captured in a child process
 * that reads and parses the event as the runtime does, runs the handler once and reports its peak
 * resident set size; the same is done for the baseline, and for loading the bundle and parsing the
 * event without doing anything: the floor under the handler.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { constants, gzipSync } from 'node:zlib';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { buildLambda } from '../deploy/build-lambda.ts';
import { captureBatch } from '../src/capture/capture-batch.ts';
import type { AttributeValue, Item } from '../src/dynamo/attribute-value.ts';
import { parseItem } from '../src/dynamo/parse.ts';
import { sampleOrders } from '../src/local/sample-orders.ts';
import { LocalFolderStore } from '../src/storage/local-folder-store.ts';
import type { ObjectStore } from '../src/storage/object-store.ts';
import { type BenchFigure, recordBenchResults } from './results.ts';

const STREAM_ARN =
  'arn:aws:dynamodb:us-east-1:111122223333:table/bench-orders/stream/2026-01-01T00:00:00.000';
/** Lambda's limit on an invocation's payload: the largest batch a DynamoDB event can be. */
const LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024;
const MEMORY_GOAL_MB = 128;
const TIME_GOAL_RATIO = 1.5;
/** V8 old-space caps to run the memory measurement under too: less heap means earlier collection. */
const HEAP_CAPS_MB = [96, 64] as const;

/** The JSON text of a Lambda event of sample-order changes: `records` of them, or up to `maxBytes`. */
function eventJson(limit: { records?: number; maxBytes?: number }): { json: string; records: number } {
  const records: string[] = [];
  let bytes = '{"Records":[]}'.length;
  let seq = 100_000_000_000_000_000_000n;
  const previous: Item[] = [];
  for (const sample of sampleOrders(Number.POSITIVE_INFINITY, 5)) {
    // As a stream delivers them: DynamoDB sends numbers in its canonical text (1E+125 as 126 digits).
    const item = parseItem(sample);
    if (limit.records !== undefined && records.length >= limit.records) break;
    const n = records.length;
    const keys: Item = { pk: item['pk'] as AttributeValue, sk: item['sk'] as AttributeValue };
    const kind = n % 10;
    const old = previous[n % Math.max(previous.length, 1)];
    let record: DynamoDBRecord;
    seq += 1_000n;
    const common = {
      eventID: `${n.toString(16).padStart(8, '0')}-bench-event`,
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      eventSourceARN: STREAM_ARN,
    };
    const stream = {
      ApproximateCreationDateTime: 1_767_225_600 + Math.floor(n / 50),
      Keys: keys as never,
      SequenceNumber: seq.toString(),
      SizeBytes: 512,
      StreamViewType: 'NEW_AND_OLD_IMAGES' as const,
    };
    if (kind < 6 || old === undefined) {
      record = { ...common, eventName: 'INSERT', dynamodb: { ...stream, NewImage: item as never } };
    } else if (kind < 9) {
      const newImage = { ...old, ...keys, status: { S: 'shipped' }, qty: item['qty'] } as Item;
      record = {
        ...common,
        eventName: 'MODIFY',
        dynamodb: { ...stream, NewImage: newImage as never, OldImage: { ...old, ...keys } as never },
      };
    } else {
      record = {
        ...common,
        eventName: 'REMOVE',
        dynamodb: { ...stream, OldImage: { ...old, ...keys } as never },
      };
    }
    previous.push(item);
    if (previous.length > 64) previous.shift();
    const text = JSON.stringify(record);
    if (limit.maxBytes !== undefined && bytes + text.length + 1 > limit.maxBytes) break;
    bytes += text.length + 1;
    records.push(text);
  }
  return { json: `{"Records":[${records.join(',')}]}`, records: records.length };
}

interface Round {
  readonly records: number;
  readonly bytes: number;
  readonly seconds: number;
}

async function runHandler(event: DynamoDBStreamEvent, store: ObjectStore): Promise<Round> {
  const started = performance.now();
  const result = await captureBatch(event, { store });
  const seconds = (performance.now() - started) / 1000;
  if (result.batchItemFailures.length > 0 || result.quarantined.length > 0) {
    throw new Error('the bench batch did not capture cleanly');
  }
  return { records: result.records, bytes: result.files[0]?.bytes ?? 0, seconds };
}

async function runBaseline(event: DynamoDBStreamEvent, store: ObjectStore | undefined): Promise<Round> {
  const started = performance.now();
  const lines = event.Records.map((record) => JSON.stringify(record));
  const body = gzipSync(`${lines.join('\n')}\n`, { level: 6, strategy: constants.Z_DEFAULT_STRATEGY });
  if (store !== undefined) await store.put('baseline/batch.jsonl.gz', body);
  return { records: lines.length, bytes: body.length, seconds: (performance.now() - started) / 1000 };
}

function row(name: string, best: Round): string {
  const perSecond = Math.round(best.records / best.seconds).toLocaleString('en-US');
  return (
    `${name.padEnd(52)} ${best.records.toLocaleString('en-US').padStart(7)} records ` +
    `${(best.seconds * 1000).toFixed(1).padStart(7)} ms ${perSecond.padStart(9)} records/s ` +
    `${(best.bytes / 1e6).toFixed(2).padStart(5)} MB gzip`
  );
}

/**
 * The scripts run in child processes for the memory measurement: plain JavaScript, as a Lambda
 * container runs the bundle (no TypeScript loader in the process), each reading and parsing the
 * event file as the runtime does, and printing its peak resident set size as the last line.
 */
function childScripts(bundleFile: string): Record<string, string> {
  const readEvent =
    "import { readFile, writeFile } from 'node:fs/promises';\n" +
    'const [eventFile, folder] = process.argv.slice(2);\n';
  const report = 'console.log(JSON.stringify({ maxRssMb: process.resourceUsage().maxRSS / 1024 }));\n';
  return {
    floor:
      `${readEvent}await import(${JSON.stringify(pathToFileURL(bundleFile).href)});\n` +
      `const event = JSON.parse(await readFile(eventFile, 'utf8'));\n${report}`,
    handler:
      `${readEvent}process.env.DDB_LAKE_LANDING = folder;\n` +
      `const { handler } = await import(${JSON.stringify(pathToFileURL(bundleFile).href)});\n` +
      "const event = JSON.parse(await readFile(eventFile, 'utf8'));\n" +
      'const { batchItemFailures } = await handler(event, { awsRequestId: "bench" });\n' +
      "if (batchItemFailures.length > 0) throw new Error('the batch failed');\n" +
      report,
    baseline:
      `${readEvent}import { gzipSync } from 'node:zlib';\n` +
      "const event = JSON.parse(await readFile(eventFile, 'utf8'));\n" +
      'const lines = event.Records.map((record) => JSON.stringify(record));\n' +
      "await writeFile(folder + '.jsonl.gz', gzipSync(lines.join('\\n') + '\\n', { level: 6 }));\n" +
      report,
  };
}

/** Peak RSS in MB of one child run, or `undefined` when V8 ran out of heap. */
function peakRssMb(
  script: string,
  eventFile: string,
  folder: string,
  nodeFlags: readonly string[],
): number | undefined {
  const run = spawnSync(process.execPath, [...nodeFlags, script, eventFile, folder], { encoding: 'utf8' });
  if (run.status !== 0 && /heap out of memory/.test(run.stderr)) return undefined;
  if (run.status !== 0) throw new Error(`${path.basename(script)} failed: ${run.stderr}`);
  return (JSON.parse(run.stdout.trim().split('\n').at(-1) as string) as { maxRssMb: number }).maxRssMb;
}

function megabytes(value: number | undefined): string {
  return value === undefined ? 'out of heap' : `${value.toFixed(0)} MB`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string, fallback: number): number => {
    const at = args.indexOf(name);
    return at >= 0 ? Number(args.splice(at, 2)[1]) : fallback;
  };
  const recordCount = option('--records', 10_000);
  const rounds = option('--rounds', 5);
  const folder = await mkdtemp(path.join(tmpdir(), 'ddb-lake-bench-capture-'));
  try {
    const { json, records } = eventJson({ records: recordCount });
    const event = JSON.parse(json) as DynamoDBStreamEvent;
    console.log(
      `capture of one Lambda batch: ${records.toLocaleString('en-US')} records, ` +
        `${(json.length / 1e6).toFixed(1)} MB of event JSON; best of ${rounds} rounds, Node ${process.version}`,
    );
    const store = new LocalFolderStore(folder);
    const handler: Round[] = [];
    const baseline: Round[] = [];
    const baselinePut: Round[] = [];
    for (let round = 0; round < rounds; round++) {
      handler.push(await runHandler(event, store));
      baseline.push(await runBaseline(event, undefined));
      baselinePut.push(await runBaseline(event, store));
    }
    const best = (results: Round[]): Round => results.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const a = best(handler);
    const b = best(baseline);
    const c = best(baselinePut);
    console.log(row('(a) captureBatch (map, validate, encode, gzip, put)', a));
    console.log(row('(b) baseline (JSON.stringify + gzip)', b));
    console.log(row('(c) baseline + put', c));
    const ratio = a.seconds / b.seconds;
    const figures: BenchFigure[] = [
      {
        metric: 'captureBatch vs JSON.stringify + gzip',
        unit: 'ms',
        ours: a.seconds * 1000,
        baseline: b.seconds * 1000,
        better: 'lower',
        goal: { on: 'ratio', value: TIME_GOAL_RATIO },
      },
    ];
    console.log(
      `ratio (a)/(b) time: ${ratio.toFixed(2)} (goal ≤ ${TIME_GOAL_RATIO}: ${ratio <= TIME_GOAL_RATIO ? 'met' : 'NOT met'}); ` +
        `(a)/(c): ${(a.seconds / c.seconds).toFixed(2)}`,
    );

    const large = eventJson({ maxBytes: LAMBDA_PAYLOAD_BYTES });
    const eventFile = path.join(folder, 'event.json');
    await writeFile(eventFile, large.json);
    const { file: bundleFile } = await buildLambda(path.join(folder, 'bundle'));
    const scripts: Record<string, string> = {};
    for (const [name, text] of Object.entries(childScripts(bundleFile))) {
      scripts[name] = path.join(folder, `${name}.mjs`);
      await writeFile(scripts[name], text);
    }
    console.log(
      `peak RSS for a ${(large.json.length / 1024 / 1024).toFixed(2)} MiB batch ` +
        `(${large.records.toLocaleString('en-US')} records), each in a fresh process running the bundle:`,
    );
    for (const [label, flags] of [
      ['default V8 heap', []],
      ...HEAP_CAPS_MB.map(
        (cap) => [`old space capped at ${cap} MB`, [`--max-old-space-size=${cap}`]] as const,
      ),
    ] as const) {
      const rss = (name: string) =>
        peakRssMb(scripts[name] as string, eventFile, path.join(folder, `${name}-out`), flags);
      const handlerRss = rss('handler');
      const met = handlerRss !== undefined && handlerRss < MEMORY_GOAL_MB;
      const baselineRss = rss('baseline');
      if (flags.length === 0 && handlerRss !== undefined && baselineRss !== undefined) {
        figures.push({
          metric: 'peak RSS of a 6 MB Lambda batch vs the baseline',
          unit: 'MiB',
          ours: handlerRss,
          baseline: baselineRss,
          better: 'lower',
          goal: { on: 'ours', value: MEMORY_GOAL_MB },
          peakRssMb: (handlerRss * 1024 * 1024) / 1e6,
        });
      }
      console.log(
        `  ${label.padEnd(28)} handler ${megabytes(handlerRss).padStart(11)}, ` +
          `baseline ${megabytes(baselineRss).padStart(11)}, ` +
          `bundle loaded and event parsed, nothing done ${megabytes(rss('floor')).padStart(7)} ` +
          `(goal < ${MEMORY_GOAL_MB} MB: ${met ? 'met' : 'NOT met'})`,
      );
    }
    recordBenchResults('capture-handler', { records, rounds, largeBatchRecords: large.records }, figures);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

await main();
