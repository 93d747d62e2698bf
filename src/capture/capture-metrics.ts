import type { CaptureLogEntry } from './capture-log.ts';

/*
 * The capture Lambda's CloudWatch metrics, carried by its JSON log lines in the Embedded Metric
 * Format (EMF, "Specification: Embedded metric format" in the CloudWatch user guide): a log line
 * whose root holds `_aws` = {Timestamp, CloudWatchMetrics: [MetricDirective]} makes CloudWatch Logs
 * extract the metrics it names from the line's own top-level members. On Lambda, writing the line
 * to stdout is enough. No library: the format is a few members, written here by hand.
 *
 * One dimension, the table name: metrics per shard would make a new metric per shard (DynamoDB
 * rolls shards over every few hours), and alarms need a fixed identity. The alarms of
 * deploy/template.json name these same constants; a test compares them.
 */

/** CloudWatch's name for a metric's unit (MetricDatum `Unit`), as far as capture uses them. */
export type MetricUnit = 'Count' | 'Bytes' | 'Milliseconds';

/** What capture's log lines publish: namespace, dimension, and each metric's name and unit. */
export const CAPTURE_METRICS = {
  namespace: 'ddb-lake',
  /** The one dimension: the DynamoDB table's name. */
  dimension: 'TableName',
  /** Stream records Lambda handed over in the batch (each batch publishes it). */
  streamRecords: { name: 'StreamRecords', unit: 'Count' },
  /** Bytes of the change file the batch wrote (gzip). */
  changeFileBytes: { name: 'ChangeFileBytes', unit: 'Bytes' },
  /** Records of the batch written to quarantine instead of a change file: a hole in the shard's changes. */
  quarantinedRecords: { name: 'QuarantinedRecords', unit: 'Count' },
  /** Now minus the newest ApproximateCreationDateTime of the batch; failed batches publish it too. */
  captureLag: { name: 'CaptureLag', unit: 'Milliseconds' },
} as const satisfies Record<string, string | { name: string; unit: MetricUnit }>;

/** The EMF members of one log line: `_aws` and the values it names, to spread into the line's root. */
export interface EmbeddedMetrics {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: readonly {
      readonly Namespace: string;
      readonly Dimensions: readonly (readonly string[])[];
      readonly Metrics: readonly { readonly Name: string; readonly Unit: MetricUnit }[];
    }[];
  };
  readonly [member: string]: unknown;
}

/**
 * The metrics a capture log entry carries, or undefined for an entry that carries none: a
 * `batch-captured` entry publishes records, bytes, quarantined records and (when known) lag; a
 * `batch-failed` entry that names its table publishes its lag only. `timestamp` (epoch ms) is the
 * time the metrics are for. Pure; never includes item contents (only counts and the table name).
 */
export function captureMetrics(entry: CaptureLogEntry, timestamp: number): EmbeddedMetrics | undefined {
  const values: [{ name: string; unit: MetricUnit }, number][] = [];
  let table: string | undefined;
  if (entry.event === 'batch-captured') {
    table = entry.table;
    values.push(
      [CAPTURE_METRICS.streamRecords, entry.records],
      [CAPTURE_METRICS.changeFileBytes, entry.bytes],
      [CAPTURE_METRICS.quarantinedRecords, entry.quarantined],
    );
    if (entry.lagMs !== undefined) values.push([CAPTURE_METRICS.captureLag, entry.lagMs]);
  } else if (entry.event === 'batch-failed' && entry.lagMs !== undefined) {
    table = entry.table;
    values.push([CAPTURE_METRICS.captureLag, entry.lagMs]);
  }
  if (table === undefined || values.length === 0) return undefined;
  const members: Record<string, unknown> = {
    _aws: {
      Timestamp: Math.round(timestamp),
      CloudWatchMetrics: [
        {
          Namespace: CAPTURE_METRICS.namespace,
          Dimensions: [[CAPTURE_METRICS.dimension]],
          Metrics: values.map(([metric]) => ({ Name: metric.name, Unit: metric.unit })),
        },
      ],
    },
    [CAPTURE_METRICS.dimension]: table,
  };
  for (const [metric, value] of values) members[metric.name] = value;
  return members as unknown as EmbeddedMetrics;
}
