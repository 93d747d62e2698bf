import { SUPPORTED_STREAM_VIEW_TYPES } from '../capture/errors.ts';
import { type CostEstimate, formatPrice } from './cost-estimate.ts';
import type { StoreLocation } from './landing-location.ts';
import type { TableFacts } from './table-facts.ts';

/** The three ways to copy what the stream never carried (`ddb-lake backfill export|scan|touch`). */
export type BackfillStrategy = 'export' | 'scan' | 'touch';

export const BACKFILL_STRATEGIES: readonly BackfillStrategy[] = ['export', 'scan', 'touch'];

/** A table up to this size counts as small: a Scan of it takes minutes and costs cents. */
export const DEFAULT_SMALL_TABLE_BYTES = 1024 ** 3;

export interface StrategyInput {
  readonly facts: TableFacts;
  readonly landing: StoreLocation;
  readonly costs: CostEstimate;
  /** `auto` (the default) or a strategy the user asked for. */
  readonly requested: BackfillStrategy | 'auto';
  /** The user would rather send every item through the stream (touch) when the table is small. */
  readonly preferStream: boolean;
  readonly smallTableBytes: number;
}

/** The recommendation, and why. */
export interface StrategyChoice {
  readonly strategy: BackfillStrategy;
  readonly requested: BackfillStrategy | 'auto';
  /** Why this strategy fits. */
  readonly why: readonly string[];
  /** Each other strategy, with why it was not chosen. */
  readonly others: readonly { readonly strategy: BackfillStrategy; readonly why: string }[];
}

/** Whether the stream is on and carries new images, as capture (and so every strategy) needs. */
export function streamCarriesNewImages(facts: TableFacts): boolean {
  return (
    facts.stream.enabled &&
    facts.stream.viewType !== null &&
    (SUPPORTED_STREAM_VIEW_TYPES as readonly string[]).includes(facts.stream.viewType)
  );
}

/**
 * Recommends a backfill strategy. With `requested` other than `auto` that strategy is taken as it
 * is (whether it can run is for the readiness check to say). Otherwise:
 * - touch, when the user prefers the stream path, the table is small and its stream carries new
 *   images: no snapshot at all, every item passes through the stream, at the price of a write each;
 * - native export, when point-in-time recovery is on, the landing area is on S3 and the table is
 *   not small: it reads no capacity and copies one consistent point in time;
 * - a parallel Scan otherwise: without point-in-time recovery, with a local landing area, or for a
 *   small table, where it is quicker and cheaper than an export.
 * Pure.
 */
export function chooseStrategy(input: StrategyInput): StrategyChoice {
  const { facts, landing, costs } = input;
  const small = facts.sizeBytes <= input.smallTableBytes;
  const pitrOn = facts.pitr.status === 'ENABLED';
  const onS3 = landing.kind === 's3';
  const streamOk = streamCarriesNewImages(facts);
  const size = `${megabytes(facts.sizeBytes)} (small tables: up to ${megabytes(input.smallTableBytes)})`;

  const asked = `--strategy ${input.requested} was asked for`;
  const whyNot: Record<BackfillStrategy, string> = {
    export: !pitrOn
      ? `point-in-time recovery is ${facts.pitr.status.toLowerCase()}, and DynamoDB exports only from it (enabling it costs about $${costs.pitrMonthlyUsd.toFixed(2)} a month)`
      : !onS3
        ? 'DynamoDB exports only to S3, and the landing area is a local folder'
        : input.requested !== 'auto'
          ? asked
          : `the table is small, ${size}: a Scan is quicker and cheaper than the export's ${formatPrice(costs.prices.exportPerGb)}/GB and its minutes of setup`,
    scan:
      input.requested !== 'auto'
        ? asked
        : pitrOn && onS3 && !small
          ? `the table is ${size}: a Scan would consume read capacity for ${minutes(costs.scan.durationMs)} where the export uses none`
          : 'the stream path was preferred (--prefer-stream) and the table is small enough to touch',
    touch: !input.preferStream
      ? `it writes every item (${costs.touch.writeUnits} write units, about $${costs.touch.usd.toFixed(4)}) and changes them; choose it with --prefer-stream`
      : !small
        ? `the table is ${size}, too large to rewrite every item (${costs.touch.writeUnits} write units, about $${costs.touch.usd.toFixed(2)})`
        : !streamOk
          ? 'the stream is off or does not carry new images'
          : asked,
  };

  let strategy: BackfillStrategy;
  let why: string[];
  if (input.requested !== 'auto') {
    strategy = input.requested;
    why = [`asked for with --strategy ${strategy}`];
  } else if (input.preferStream && small && streamOk) {
    strategy = 'touch';
    why = [
      `the stream path was preferred and the table is small, ${size}`,
      'every item passes through the stream as a change with its full new image: no snapshot to hand off',
      `it writes each item once (${costs.touch.writeUnits} write units, about $${costs.touch.usd.toFixed(4)})`,
    ];
  } else if (pitrOn && onS3 && !small) {
    strategy = 'export';
    why = [
      'point-in-time recovery is on and the landing area is on S3',
      'the export reads no capacity from the table and copies one consistent point in time',
      `the table is ${size}`,
    ];
  } else {
    strategy = 'scan';
    why = [
      !pitrOn
        ? `point-in-time recovery is ${facts.pitr.status.toLowerCase()}, so DynamoDB cannot export the table`
        : !onS3
          ? 'the landing area is a local folder, and DynamoDB exports only to S3'
          : `the table is small, ${size}`,
      `a parallel Scan writes the same layout as the native export, reading about ${costs.scan.readUnits} read unit(s)`,
    ];
  }
  const others = (['export', 'scan', 'touch'] as const)
    .filter((other) => other !== strategy)
    .map((other) => ({ strategy: other, why: whyNot[other] }));
  return { strategy, requested: input.requested, why, others };
}

function megabytes(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(2)} GB` : `${(bytes / 1024 ** 2).toFixed(2)} MB`;
}

function minutes(ms: number): string {
  return ms < 60_000 ? `${Math.ceil(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`;
}
