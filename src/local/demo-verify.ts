import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ObjectStore } from '../storage/object-store.ts';
import type { VerifyReport } from '../verify/verify-report.ts';
import { verifyTable } from '../verify/verify-table.ts';
import type { DemoVerify } from './demo-events.ts';

/*
 * The demo's last step: `ddb-lake verify` run as a library on the table the demo built, its report
 * kept whole and summed up in the few figures the demo prints.
 */

export interface DemoVerifyOptions {
  readonly client: DynamoDBClient;
  readonly table: string;
  readonly delta: ObjectStore;
  /** The table has stopped changing by now, so a short wait is enough to re-check a change in flight. */
  readonly settleMs: number;
  /** Differences listed, at most (default 10). */
  readonly limit?: number;
}

/**
 * Verifies the Delta table at `delta` against the DynamoDB table (verifyTable: every segment,
 * key by key, exact), and lists the first differences as one line each. Read-only.
 * Throws what verifyTable throws.
 */
export async function verifyDemoTable(options: DemoVerifyOptions): Promise<DemoVerify> {
  const started = performance.now();
  const limit = options.limit ?? 10;
  const report = await verifyTable({
    client: options.client,
    table: options.table,
    delta: options.delta,
    settleMs: options.settleMs,
    limit,
  });
  return {
    equal: report.equal,
    tableItems: report.tableItems,
    lakeRows: report.lakeRows,
    missing: report.missing.count,
    extra: report.extra.count,
    different: report.different.count,
    firstDifferences: firstDifferences(report, limit),
    ms: Math.round(performance.now() - started),
    report,
  };
}

function firstDifferences(report: VerifyReport, limit: number): string[] {
  const lines = [
    ...report.missing.keys.map((key) => `missing from the Delta table: ${key}`),
    ...report.extra.keys.map((key) => `in the Delta table only: ${key}`),
    ...report.different.keys.map((entry) => {
      const attributes = entry.attributes
        .map(
          (difference) =>
            `${difference.attribute}: table ${difference.table ?? '(absent)'}, lake ${difference.lake ?? '(absent)'}`,
        )
        .join('; ');
      return `different: ${entry.key}${attributes === '' ? '' : ` (${attributes})`}`;
    }),
  ];
  return lines.slice(0, limit);
}
