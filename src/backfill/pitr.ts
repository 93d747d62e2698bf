import { DescribeContinuousBackupsCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { exportApiError, PitrDisabledError } from './native-export-errors.ts';

/** A table's point-in-time recovery window: the times an export may ask for. */
export interface PitrWindow {
  /** The oldest time an export can copy (when recovery was enabled, or the recovery period ago). */
  readonly earliestRestorable: Date | null;
  /** The newest restorable time DynamoDB reports (typically about 5 minutes ago). */
  readonly latestRestorable: Date | null;
  /** How many days back recovery reaches (1 to 35), when DynamoDB says. */
  readonly recoveryPeriodInDays: number | null;
}

/**
 * Reads the table's point-in-time recovery settings (DescribeContinuousBackups, which takes a
 * name or an ARN) and returns its window. Throws `PitrDisabledError` naming the command that
 * enables it when the status is anything but ENABLED, since DynamoDB exports only from it; throws
 * `NativeExportError` (`TABLE_NOT_FOUND`, `EXPORT_API_FAILED`) when the call fails. Reads only.
 */
export async function checkPointInTimeRecovery(dynamodb: DynamoDBClient, table: string): Promise<PitrWindow> {
  let answer: Awaited<ReturnType<typeof describe>>;
  try {
    answer = await describe(dynamodb, table);
  } catch (error) {
    throw exportApiError(error, { operation: 'DescribeContinuousBackups', table });
  }
  const description = answer.ContinuousBackupsDescription;
  const recovery = description?.PointInTimeRecoveryDescription;
  const status = recovery?.PointInTimeRecoveryStatus ?? 'DISABLED';
  if (status !== 'ENABLED') throw new PitrDisabledError(table, status);
  return {
    earliestRestorable: recovery?.EarliestRestorableDateTime ?? null,
    latestRestorable: recovery?.LatestRestorableDateTime ?? null,
    recoveryPeriodInDays: recovery?.RecoveryPeriodInDays ?? null,
  };
}

function describe(dynamodb: DynamoDBClient, table: string) {
  return dynamodb.send(new DescribeContinuousBackupsCommand({ TableName: table }));
}
