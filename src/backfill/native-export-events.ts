import type { ExportDescription } from '@aws-sdk/client-dynamodb';
import type { PitrWindow } from './pitr.ts';

/**
 * One export as DescribeExport tells it, flattened to plain values (times as ISO-8601 UTC) so
 * events, results and `--json` output can carry it as they are.
 */
export interface ExportInfo {
  readonly exportArn: string;
  /** The last part of the ARN: the export's folder `AWSDynamoDB/<exportId>/`. */
  readonly exportId: string;
  /** `IN_PROGRESS`, `COMPLETED` or `FAILED`. */
  readonly status: string;
  readonly tableArn: string | null;
  readonly exportType: 'FULL_EXPORT' | 'INCREMENTAL_EXPORT';
  /** A full export: the point in time the items reflect. */
  readonly exportTime: string | null;
  /** An incremental export: its window `[exportFromTime, exportToTime)`. */
  readonly exportFromTime: string | null;
  readonly exportToTime: string | null;
  readonly startTime: string | null;
  readonly endTime: string | null;
  readonly s3Bucket: string | null;
  readonly s3Prefix: string | null;
  readonly clientToken: string | null;
  /** Known once the export completed. */
  readonly itemCount: number | null;
  readonly billedSizeBytes: number | null;
  readonly failureCode: string | null;
  readonly failureMessage: string | null;
}

/** The export id of an export ARN (`…:table/<name>/export/<exportId>`): its last path segment. */
export function exportIdOf(exportArn: string): string {
  const slash = exportArn.lastIndexOf('/');
  return slash < 0 ? exportArn : exportArn.slice(slash + 1);
}

/** `ExportInfo` of a DescribeExport (or ExportTableToPointInTime) answer. Pure. */
export function exportInfoOf(description: ExportDescription, exportArn: string): ExportInfo {
  const arn = description.ExportArn ?? exportArn;
  const incremental = description.IncrementalExportSpecification;
  return {
    exportArn: arn,
    exportId: exportIdOf(arn),
    status: description.ExportStatus ?? 'UNKNOWN',
    tableArn: description.TableArn ?? null,
    exportType: description.ExportType === 'INCREMENTAL_EXPORT' ? 'INCREMENTAL_EXPORT' : 'FULL_EXPORT',
    exportTime: iso(description.ExportTime),
    exportFromTime: iso(incremental?.ExportFromTime),
    exportToTime: iso(incremental?.ExportToTime),
    startTime: iso(description.StartTime),
    endTime: iso(description.EndTime),
    s3Bucket: description.S3Bucket ?? null,
    s3Prefix: description.S3Prefix === undefined || description.S3Prefix === '' ? null : description.S3Prefix,
    clientToken: description.ClientToken ?? null,
    itemCount: description.ItemCount ?? null,
    billedSizeBytes: description.BilledSizeBytes ?? null,
    failureCode: description.FailureCode ?? null,
    failureMessage: description.FailureMessage ?? null,
  };
}

function iso(time: Date | undefined): string | null {
  return time === undefined || Number.isNaN(time.getTime()) ? null : time.toISOString();
}

/** Stable codes of the events the native export reports, for programs and renderers. */
export const NativeExportEventCode = {
  /** Point-in-time recovery is on; its window is known. */
  pitrChecked: 'NATIVE_EXPORT_PITR_CHECKED',
  /** An earlier, unfinished run recorded this request: its export time (and token) are used again. */
  requestResumed: 'NATIVE_EXPORT_REQUEST_RESUMED',
  /** An earlier run's export of the same table to the same place was not watched to its end. */
  earlierRequestReplaced: 'NATIVE_EXPORT_EARLIER_REQUEST_REPLACED',
  /** ExportTableToPointInTime answered: the export runs (or ran) under this ARN. */
  started: 'NATIVE_EXPORT_STARTED',
  /** A DescribeExport poll: the status and how long the export has been running. */
  status: 'NATIVE_EXPORT_STATUS',
  /** Reading the completed export's files and checking them: records read so far. */
  verifying: 'NATIVE_EXPORT_VERIFYING',
} as const;

/** An event of the native export. The library never prints; the CLI renders these. */
export type NativeExportEvent =
  | {
      readonly code: typeof NativeExportEventCode.pitrChecked;
      readonly level: 'info';
      readonly tableArn: string;
      readonly window: PitrWindow;
    }
  | {
      readonly code: typeof NativeExportEventCode.requestResumed;
      readonly level: 'info';
      /** Where the request is recorded in the landing area. */
      readonly key: string;
      readonly exportTime: string;
      readonly requestedAt: string;
      readonly exportArn: string | null;
    }
  | {
      readonly code: typeof NativeExportEventCode.earlierRequestReplaced;
      readonly level: 'warn';
      readonly key: string;
      readonly exportArn: string;
      readonly requestedAt: string;
    }
  | {
      readonly code: typeof NativeExportEventCode.started;
      readonly level: 'info';
      readonly export: ExportInfo;
      readonly clientToken: string;
    }
  | {
      readonly code: typeof NativeExportEventCode.status;
      readonly level: 'info';
      readonly export: ExportInfo;
      /** Since the export's StartTime (or since watching began, when DynamoDB gives none). */
      readonly elapsedMs: number;
      readonly polls: number;
    }
  | {
      readonly code: typeof NativeExportEventCode.verifying;
      readonly level: 'info';
      readonly exportArn: string;
      readonly records: number;
      readonly file: string;
    };

/** Where library functions of the native export report their events. */
export type OnNativeExportEvent = (event: NativeExportEvent) => void;
