import {
  DescribeTableCommand,
  type DynamoDBClient,
  ExportTableToPointInTimeCommand,
  type ExportTableToPointInTimeCommandInput,
} from '@aws-sdk/client-dynamodb';
import type { ObjectStore } from '../storage/object-store.ts';
import { describeExport, type NativeExportOutcome, watchNativeExport } from './export-watch.ts';
import {
  exportApiError,
  InvalidExportRequestError,
  NativeExportError,
  NativeExportErrorCode,
} from './native-export-errors.ts';
import {
  type ExportInfo,
  exportInfoOf,
  NativeExportEventCode,
  type OnNativeExportEvent,
} from './native-export-events.ts';
import { claimExportRequest, recordExportArn } from './native-export-intent.ts';
import {
  type ExportKind,
  type ExportSse,
  exportRequestOf,
  type NativeExportSpec,
  parseS3Landing,
  validateExportSpec,
} from './native-export-request.ts';
import { checkPointInTimeRecovery, type PitrWindow } from './pitr.ts';

/** What `ddb-lake backfill export` asks for. */
export interface NativeExportOptions {
  /** The client every DynamoDB call goes through (tests pass a mocked one). */
  readonly dynamodb: DynamoDBClient;
  /** Table name or ARN. */
  readonly table: string;
  /** `s3://bucket[/prefix]`: the export lands under `AWSDynamoDB/<exportId>/` there. */
  readonly landing: string;
  /** Opens an `s3://` URL as a store: the landing area, for the request's record and reading back. */
  readonly openStore: (url: string) => ObjectStore;
  /** A full export's point in time (default: now, in whole seconds). Not with `incremental`. */
  readonly exportTime?: Date;
  /** An incremental export of the changes in `[from, to)` (15 minutes to 24 hours), NEW_AND_OLD_IMAGES. */
  readonly incremental?: { readonly from: Date; readonly to: Date };
  readonly bucketOwner?: string;
  readonly sse?: ExportSse;
  /** Folded into the ClientToken (default 1): a new number makes the same request a new export. */
  readonly attempt?: number;
  /** The current time (default `new Date()`). */
  readonly now?: () => Date;
  readonly onEvent?: OnNativeExportEvent;
}

/** The export a request started, or the running one it found. */
export interface StartedNativeExport {
  readonly export: ExportInfo;
  readonly clientToken: string;
  /** What was (or would have been) sent to ExportTableToPointInTime. */
  readonly request: ExportTableToPointInTimeCommandInput;
  /** True when an earlier run's export of this request was still running and nothing was sent. */
  readonly attached: boolean;
  readonly pitr: PitrWindow;
}

/**
 * Starts a DynamoDB Export to S3 (ExportTableToPointInTime), once per request:
 * 1. checks the request locally (S3 landing, times, window) and throws `InvalidExportRequestError`
 *    before any call;
 * 2. resolves the table's ARN (DescribeTable, unless an ARN was given) and checks point-in-time
 *    recovery (`PitrDisabledError` names the command that enables it), then the times against
 *    its window;
 * 3. records the request under `_ddb_lake/backfill/native-export/` in the landing area, reusing an
 *    earlier interrupted run's export time, so a rerun sends the same ClientToken and DynamoDB
 *    answers with the export it already started (or watches it, if it still runs);
 * 4. sends the request with a ClientToken derived from it, and records the export's ARN.
 * Throws `NativeExportError` with an explanation for each refusal (`EXPORT_CONFLICT`,
 * `EXPORT_CLIENT_TOKEN_MISMATCH`, `INVALID_EXPORT_TIME`, …). Does not wait for the export.
 */
export async function startNativeExport(options: NativeExportOptions): Promise<StartedNativeExport> {
  const now = options.now?.() ?? new Date();
  const destination = parseS3Landing(options.landing);
  if (options.exportTime !== undefined && options.incremental !== undefined) {
    throw new InvalidExportRequestError(
      '--export-time is for a full export; an incremental export takes --from and --to instead.',
    );
  }
  const kind: ExportKind =
    options.incremental === undefined
      ? { type: 'FULL_EXPORT', exportTime: options.exportTime ?? wholeSeconds(now) }
      : { type: 'INCREMENTAL_EXPORT', from: options.incremental.from, to: options.incremental.to };
  const draft: NativeExportSpec = {
    tableArn: options.table,
    destination,
    kind,
    ...(options.bucketOwner === undefined ? {} : { bucketOwner: options.bucketOwner }),
    ...(options.sse === undefined ? {} : { sse: options.sse }),
    attempt: options.attempt ?? 1,
  };
  validateExportSpec(draft, now);

  const tableArn = await resolveTableArn(options.dynamodb, options.table);
  // Asked with the table as the user named it, so that a refusal names it the same way.
  const pitr = await checkPointInTimeRecovery(options.dynamodb, options.table);
  options.onEvent?.({ code: NativeExportEventCode.pitrChecked, level: 'info', tableArn, window: pitr });
  const spec: NativeExportSpec = { ...draft, tableArn };
  validateExportSpec(spec, now, pitr);

  const store = options.openStore(destination.url);
  try {
    const claimed = await claimExportRequest(store, spec, {
      explicitTime: options.exportTime !== undefined || options.incremental !== undefined,
      now,
      describe: async (exportArn) => {
        try {
          return await describeExport(options.dynamodb, exportArn);
        } catch (error) {
          if (error instanceof NativeExportError && error.code === NativeExportErrorCode.exportNotFound) {
            return undefined;
          }
          throw error;
        }
      },
      onEvent: options.onEvent,
    });
    const request = exportRequestOf(claimed.spec);
    const clientToken = request.ClientToken ?? '';
    if (claimed.running !== undefined) {
      options.onEvent?.({
        code: NativeExportEventCode.started,
        level: 'info',
        export: claimed.running,
        clientToken,
      });
      return { export: claimed.running, clientToken, request, attached: true, pitr };
    }
    let info: ExportInfo;
    try {
      const answer = await options.dynamodb.send(new ExportTableToPointInTimeCommand(request));
      const arn = answer.ExportDescription?.ExportArn;
      if (answer.ExportDescription === undefined || arn === undefined) {
        throw new NativeExportError(
          NativeExportErrorCode.apiFailed,
          `ExportTableToPointInTime answered without an export ARN for ${tableArn}. Run the same command again: ` +
            'its ClientToken is the same, so DynamoDB answers with the export it started, if any.',
        );
      }
      info = exportInfoOf(answer.ExportDescription, arn);
    } catch (error) {
      throw exportApiError(error, {
        operation: 'ExportTableToPointInTime',
        table: tableArn,
        clientToken,
        destination: destination.url,
      });
    }
    await recordExportArn(store, claimed, info.exportArn);
    options.onEvent?.({ code: NativeExportEventCode.started, level: 'info', export: info, clientToken });
    return { export: info, clientToken, request, attached: false, pitr };
  } finally {
    await store.close();
  }
}

/** `startNativeExport`, then (unless `wait` is false) watching it to its end. */
export interface RunNativeExportOptions extends NativeExportOptions {
  /** False: return once the export is started (`--no-wait`), with the outcome `running`. */
  readonly wait?: boolean;
  readonly pollIntervalMs?: number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Stops watching; the export goes on. */
  readonly signal?: AbortSignal;
}

/**
 * The whole of `ddb-lake backfill export`: starts the export (see `startNativeExport`) and watches
 * it (see `watchNativeExport`) to COMPLETED, read back and checked, or FAILED. Throws what those
 * two throw; a failed export is the outcome `failed`, not an exception.
 */
export async function runNativeExport(
  options: RunNativeExportOptions,
): Promise<{ readonly started: StartedNativeExport; readonly outcome: NativeExportOutcome }> {
  const started = await startNativeExport(options);
  const outcome = await watchNativeExport({
    dynamodb: options.dynamodb,
    exportArn: started.export.exportArn,
    openStore: options.openStore,
    initial: started.export,
    wait: options.wait ?? true,
    ...(options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs }),
    ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.now === undefined ? {} : { now: () => (options.now as () => Date)().getTime() }),
    ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
  });
  return { started, outcome };
}

const TABLE_ARN = /^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table\/[A-Za-z0-9_.-]{3,255}$/;

/**
 * The table's ARN, which ExportTableToPointInTime requires: an ARN is checked and returned as it
 * is, a name is looked up with DescribeTable. Throws `InvalidExportRequestError` for a malformed
 * ARN, `NativeExportError` `TABLE_NOT_FOUND` for a missing table.
 */
export async function resolveTableArn(dynamodb: DynamoDBClient, table: string): Promise<string> {
  if (table.startsWith('arn:')) {
    if (!TABLE_ARN.test(table)) {
      throw new InvalidExportRequestError(
        `--table ${table} is not a table ARN (arn:aws:dynamodb:<region>:<account>:table/<name>); pass the table's name or its ARN.`,
      );
    }
    return table;
  }
  try {
    const answer = await dynamodb.send(new DescribeTableCommand({ TableName: table }));
    const arn = answer.Table?.TableArn;
    if (arn === undefined) {
      throw new NativeExportError(
        NativeExportErrorCode.apiFailed,
        `DescribeTable answered without an ARN for table ${table}; pass the table's ARN with --table.`,
      );
    }
    return arn;
  } catch (error) {
    throw exportApiError(error, { operation: 'DescribeTable', table });
  }
}

function wholeSeconds(time: Date): Date {
  return new Date(Math.floor(time.getTime() / 1000) * 1000);
}
