import { awsRequestError } from '../aws/aws-request-error.ts';
import { DdbLakeError } from '../errors.ts';

/** Stable codes of `plan`'s errors, for programs and `--json` output. */
export const PlanErrorCode = {
  /** DynamoDB has no table of that name in the region and account asked. */
  tableNotFound: 'TABLE_NOT_FOUND',
  /** DynamoDB answered a DescribeTable without the table's description. */
  unexpectedAnswer: 'PLAN_UNEXPECTED_ANSWER',
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

/** An option of the plan that cannot be used as given (the CLI turns its own flags into usage errors). */
export class InvalidPlanOptionError extends PlanError {
  readonly option: string;

  constructor(option: string, reason: string) {
    super(PlanErrorCode.invalidOption, `The plan option ${option} ${reason}.`);
    this.option = option;
  }
}

/**
 * The error to throw for a failed DynamoDB call of plan: the shared `AwsRequestError` (service,
 * endpoint, what to check), naming the permission the call needs; anything that is not an SDK or
 * network error (a bug) as it is.
 */
export function planRequestError(operation: string, about: string, error: unknown): unknown {
  return awsRequestError(error, {
    service: 'DynamoDB',
    operation,
    about,
    permissions: [`dynamodb:${operation}`],
    next: 'Then run plan again.',
  });
}
