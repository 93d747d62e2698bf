import { DdbLakeError } from '../errors.ts';

/** Stable codes of `plan`'s errors, for programs and `--json` output. */
export const PlanErrorCode = {
  /** DynamoDB has no table of that name in the region and account asked. */
  tableNotFound: 'TABLE_NOT_FOUND',
  /** A DynamoDB request that plan needs was refused: access, credentials, region, endpoint. */
  requestFailed: 'PLAN_REQUEST_FAILED',
  /** A flag or option of the plan is out of range (a negative margin, a price that is not a number). */
  invalidOption: 'PLAN_INVALID_OPTION',
} as const;

export type PlanErrorCode = (typeof PlanErrorCode)[keyof typeof PlanErrorCode];

/** An error of `plan` and of the handoff check: the message says what happened and what to do. */
export class PlanError extends DdbLakeError {
  declare readonly code: PlanErrorCode;

  constructor(code: PlanErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** DescribeTable answered ResourceNotFoundException. */
export class TableNotFoundError extends PlanError {
  readonly table: string;

  constructor(table: string, where: string, options?: { cause?: unknown }) {
    super(
      PlanErrorCode.tableNotFound,
      `DynamoDB has no table "${table}" ${where}. Check the name (or ARN), --region and --profile ` +
        '(and --endpoint-url for a local DynamoDB), then run plan again.',
      options,
    );
    this.table = table;
  }
}

/**
 * A DynamoDB request refused for a reason that retrying does not cure (access denied, no
 * credentials, no region, a validation error). The message names the call, the IAM action it needs
 * and the service's own words.
 */
export class PlanRequestError extends PlanError {
  readonly operation: string;

  constructor(operation: string, where: string, options: { cause: unknown }) {
    const cause = options.cause;
    const reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(
      PlanErrorCode.requestFailed,
      `${operation} for ${where} failed (${reason}). Check --region, --profile, --endpoint-url and the ` +
        `credentials (plan needs dynamodb:${operation} on the table), then run plan again.`,
      options,
    );
    this.operation = operation;
  }
}

/** An option of the plan that cannot be used as given (the CLI turns its own flags into usage errors). */
export class InvalidPlanOptionError extends PlanError {
  readonly option: string;

  constructor(option: string, reason: string) {
    super(PlanErrorCode.invalidOption, `The plan option ${option} ${reason}.`);
    this.option = option;
  }
}

/**
 * The error to throw for a failed AWS request: `PlanRequestError` for an answer of the service (it
 * has `$metadata`) or a configuration error of the SDK (no credentials, no region); anything else
 * (a bug) as it is, with its stack.
 */
export function planRequestError(operation: string, where: string, error: unknown): unknown {
  if (typeof error !== 'object' || error === null) return error;
  const name = (error as { name?: unknown }).name;
  const fromService = '$metadata' in error;
  const configuration =
    name === 'CredentialsProviderError' || /region is missing/i.test(String((error as Error).message));
  return fromService || configuration ? new PlanRequestError(operation, where, { cause: error }) : error;
}
