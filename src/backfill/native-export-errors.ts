import { AwsRequestError, awsFailureOf } from '../aws/aws-request-error.ts';
import { DdbLakeError, UsageError } from '../errors.ts';

/** Stable codes of the native export's errors, for programs, logs and `--json` output. */
export const NativeExportErrorCode = {
  /** Point-in-time recovery is off for the table: DynamoDB cannot export it. */
  pitrDisabled: 'PITR_DISABLED',
  /** The table does not exist in this account and region. */
  tableNotFound: 'TABLE_NOT_FOUND',
  /** DynamoDB answered ExportConflictException. */
  exportConflict: 'EXPORT_CONFLICT',
  /** DynamoDB answered IdempotentParameterMismatchException. */
  clientTokenMismatch: 'EXPORT_CLIENT_TOKEN_MISMATCH',
  /** DynamoDB refused the export time or window (InvalidExportTimeException). */
  invalidExportTime: 'INVALID_EXPORT_TIME',
  /** Too many exports or table operations at once (LimitExceededException). */
  limitExceeded: 'EXPORT_LIMIT_EXCEEDED',
  /** DescribeExport does not know the ARN. */
  exportNotFound: 'EXPORT_NOT_FOUND',
  /** A call of the export API failed for another reason. */
  apiFailed: 'EXPORT_API_FAILED',
} as const;

export type NativeExportErrorCode = (typeof NativeExportErrorCode)[keyof typeof NativeExportErrorCode];

/** An error of the native export (DynamoDB Export to S3): start, watch, or the table's settings. */
export class NativeExportError extends DdbLakeError {
  declare readonly code: NativeExportErrorCode;

  constructor(code: NativeExportErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * An export request DynamoDB would refuse, caught before any call: a landing area that is not
 * S3, a window shorter than 15 minutes, an export time in the future or before the earliest
 * restorable time. A usage mistake: the CLI exits with code 2.
 */
export class InvalidExportRequestError extends UsageError {}

/** The shell command that switches point-in-time recovery on for `table`. */
export function enablePitrCommand(table: string): string {
  return (
    `aws dynamodb update-continuous-backups --table-name ${table} ` +
    '--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true'
  );
}

/** Point-in-time recovery is off, so DynamoDB has no continuous backup to export from. */
export class PitrDisabledError extends NativeExportError {
  readonly table: string;

  constructor(table: string, status: string, options?: { cause?: unknown }) {
    super(
      NativeExportErrorCode.pitrDisabled,
      `Point-in-time recovery of table ${table} is ${status}, and DynamoDB's Export to S3 reads from it: ` +
        `nothing was exported. Enable it with\n  ${enablePitrCommand(table)}\n` +
        'then run this command again. It is billed per GB-month of table size, and an export can only ' +
        'ask for a time after the moment it was enabled (the earliest restorable time). To copy the table ' +
        'without it, use `ddb-lake backfill scan` (reads the table, consumes read capacity).',
      options,
    );
    this.table = table;
  }
}

/** What the caller was doing when the export API failed, for the messages. */
export interface ExportApiContext {
  readonly operation:
    | 'DescribeTable'
    | 'DescribeContinuousBackups'
    | 'ExportTableToPointInTime'
    | 'DescribeExport';
  readonly table?: string;
  readonly exportArn?: string;
  readonly clientToken?: string;
  /** `s3://bucket/prefix` the export writes to. */
  readonly destination?: string;
}

/**
 * Turns an error of the DynamoDB SDK into a `NativeExportError` that says what happened and what
 * to do. `ExportConflictException` and `IdempotentParameterMismatchException` are told apart: the
 * first means another export writes to the same place, or (as AWS documents it today) a ClientToken
 * reused with other parameters; the second is always the token reused with other parameters.
 * Endpoint, network, credential and access failures become the shared `AwsRequestError`. Errors
 * that are already `DdbLakeError`s are returned as they are.
 */
export function exportApiError(error: unknown, context: ExportApiContext): DdbLakeError {
  if (error instanceof DdbLakeError) return error;
  const name = error instanceof Error ? error.name : 'Error';
  const detail = error instanceof Error && error.message !== '' ? ` (${error.message})` : '';
  const table = context.table ?? 'the table';
  const options = { cause: error };
  switch (name) {
    case 'PointInTimeRecoveryUnavailableException':
      return new PitrDisabledError(table, 'not enabled', options);
    case 'TableNotFoundException':
    case 'ResourceNotFoundException':
      return new NativeExportError(
        NativeExportErrorCode.tableNotFound,
        `${context.operation}: table ${table} was not found${detail}. Check the name (or ARN), the account ` +
          'and the region (--region, --profile).',
        options,
      );
    case 'ExportConflictException':
      return new NativeExportError(
        NativeExportErrorCode.exportConflict,
        `DynamoDB refused the export of ${table} to ${context.destination ?? 'S3'} with ExportConflictException${detail}. ` +
          'It means one of two things. Either another export is writing to the same S3 location right now: ' +
          `wait for it (aws dynamodb list-exports --table-arn ${table}) or export under another --landing prefix. ` +
          `Or the ClientToken ${context.clientToken ?? ''} was used in the last 8 hours for a request with other ` +
          'parameters: ddb-lake derives the token from every parameter, so only another tool could have reused it; ' +
          'pass --attempt with a new number to get a new token.',
        options,
      );
    case 'IdempotentParameterMismatchException':
      return new NativeExportError(
        NativeExportErrorCode.clientTokenMismatch,
        `DynamoDB refused the export of ${table}: its ClientToken ${context.clientToken ?? ''} was already used ` +
          `in the last 8 hours for an export with other parameters${detail}. ddb-lake derives the token from ` +
          'the table, the export time or window, the bucket, prefix and owner, the encryption and --attempt, ' +
          'so the same token with other parameters comes from another tool using it. Nothing new was started. ' +
          'Pass --attempt with a new number to get a new token.',
        options,
      );
    case 'InvalidExportTimeException':
      return new NativeExportError(
        NativeExportErrorCode.invalidExportTime,
        `DynamoDB refused the export time of ${table}${detail}: it must lie inside the point-in-time recovery ` +
          'window (from the earliest restorable time, shown by aws dynamodb describe-continuous-backups, to ' +
          'now). Choose another --export-time, or --from/--to.',
        options,
      );
    case 'LimitExceededException':
      return new NativeExportError(
        NativeExportErrorCode.limitExceeded,
        `DynamoDB refused ${context.operation} for ${table}: too many exports or table operations are running ` +
          `in this account${detail}. Nothing new was started; run this command again once some have finished.`,
        options,
      );
    case 'ExportNotFoundException':
      return new NativeExportError(
        NativeExportErrorCode.exportNotFound,
        `DynamoDB knows no export ${context.exportArn ?? ''}${detail}. Check the ARN, the account and the region ` +
          '(an export is described in the region of its table).',
        options,
      );
    default: {
      const resume =
        context.exportArn === undefined
          ? ''
          : ` The export itself is not affected: resume watching with ddb-lake backfill status ${context.exportArn}.`;
      // Endpoint, network, credential and access failures read as in every other command.
      const failure = awsFailureOf(error);
      if (failure !== undefined && failure.kind !== 'failed') {
        return new AwsRequestError(
          failure,
          {
            service: 'DynamoDB',
            operation: context.operation,
            about: context.exportArn ?? `table ${table}`,
            ...(resume === '' ? {} : { next: resume.trim() }),
          },
          options,
        );
      }
      return new NativeExportError(
        NativeExportErrorCode.apiFailed,
        `${context.operation} failed for ${context.exportArn ?? table}: ${name}${detail}.${resume}`,
        options,
      );
    }
  }
}
