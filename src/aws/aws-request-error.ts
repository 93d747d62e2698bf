import { DdbLakeError } from '../errors.ts';
import { type FailedRequest, failedRequestOf } from './endpoint-watch.ts';

/** Why an AWS request failed, in the terms of what a person checks next. */
export const AwsFailureKind = {
  /** The endpoint did not connect, or connected and did not answer, in time. */
  timeout: 'timeout',
  /** The connection was refused, reset or could not be routed. */
  unreachable: 'unreachable',
  /** The endpoint's host name does not resolve. */
  unknownHost: 'unknown-host',
  /** The SDK's credential chain found nothing. */
  noCredentials: 'no-credentials',
  /** The service does not know the credentials, or their signature. */
  credentialsRejected: 'credentials-rejected',
  /** The session token has expired. */
  credentialsExpired: 'credentials-expired',
  /** The caller lacks a permission. */
  accessDenied: 'access-denied',
  /** The table, stream, shard or bucket does not exist there. */
  notFound: 'not-found',
  /** No region is configured. */
  noRegion: 'no-region',
  /** Throttled on every attempt. */
  throttled: 'throttled',
  /** Any other answer of the service, or an answer the SDK could not read. */
  failed: 'failed',
} as const;

export type AwsFailureKind = (typeof AwsFailureKind)[keyof typeof AwsFailureKind];

/** The stable error code of each kind, for programs and `--json`. */
const CODES: Record<AwsFailureKind, string> = {
  timeout: 'ENDPOINT_TIMEOUT',
  unreachable: 'ENDPOINT_UNREACHABLE',
  'unknown-host': 'ENDPOINT_UNKNOWN_HOST',
  'no-credentials': 'NO_CREDENTIALS',
  'credentials-rejected': 'CREDENTIALS_REJECTED',
  'credentials-expired': 'CREDENTIALS_EXPIRED',
  'access-denied': 'ACCESS_DENIED',
  'not-found': 'RESOURCE_NOT_FOUND',
  'no-region': 'NO_REGION',
  throttled: 'THROTTLED',
  failed: 'AWS_REQUEST_FAILED',
};

/** An SDK or network error, sorted. */
export interface AwsFailure {
  readonly kind: AwsFailureKind;
  readonly code: string;
  /** The SDK error's name (`TimeoutError`, `AccessDeniedException`) or socket code (`ECONNREFUSED`). */
  readonly name: string;
  readonly message: string;
  readonly httpStatus: number | undefined;
  /** How many times the SDK sent the request. */
  readonly attempts: number | undefined;
  /** Where it went, when a watched client made it (`watchEndpoint`). */
  readonly request: FailedRequest | undefined;
}

/** What a caller knows about a request, to say in the message. */
export interface AwsRequestContext {
  /** The service, when the error does not say (a client that `watchEndpoint` did not wrap). */
  readonly service?: string;
  /** The operation, when the error does not say. */
  readonly operation?: string;
  /** What the request was about: `table orders`, `shard shardId-0001`, `"key" in s3://bucket`. */
  readonly about?: string;
  /** The IAM actions the caller needs, named when access is denied. */
  readonly permissions?: readonly string[];
  /** What to do once the cause is fixed, as a sentence: `Then run capture again: it resumes.` */
  readonly next?: string;
}

const TIMEOUT_CODES: ReadonlySet<string> = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT']);
const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'ECONNABORTED',
]);
const UNKNOWN_HOST_CODES: ReadonlySet<string> = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL']);
const REJECTED_NAMES: ReadonlySet<string> = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidClientTokenId',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'MissingAuthenticationTokenException',
]);
const EXPIRED_NAMES: ReadonlySet<string> = new Set([
  'ExpiredToken',
  'ExpiredTokenException',
  'TokenRefreshRequired',
  'RequestExpired',
]);
const NOT_FOUND_NAMES: ReadonlySet<string> = new Set([
  'ResourceNotFoundException',
  'TableNotFoundException',
  'NoSuchBucket',
  'ExportNotFoundException',
]);
const THROTTLED_NAMES: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'LimitExceededException',
  'SlowDown',
]);

/**
 * Sorts an error thrown by an AWS SDK call (or by the network under it). Undefined for anything
 * else: an error of ours, a bug, an aborted request (`AbortError`, which is how a stop is
 * delivered, not a failure).
 */
export function awsFailureOf(error: unknown): AwsFailure | undefined {
  if (typeof error !== 'object' || error === null || error instanceof DdbLakeError) return undefined;
  const { name, code, message, $metadata } = error as {
    name?: unknown;
    code?: unknown;
    message?: unknown;
    $metadata?: { httpStatusCode?: unknown; attempts?: unknown };
  };
  const errorName = typeof name === 'string' ? name : 'Error';
  if (errorName === 'AbortError') return undefined;
  // `@smithy/node-http-handler - the request socket timed out….` reads better without its source and full stop.
  const text = (typeof message === 'string' ? message : String(error))
    .replace(/^@[\w./-]+ - /, '')
    .replace(/\.$/, '');
  const socketCode = typeof code === 'string' ? code : undefined;
  const httpStatus = typeof $metadata?.httpStatusCode === 'number' ? $metadata.httpStatusCode : undefined;
  const request = failedRequestOf(error);
  const kind = kindOf(errorName, socketCode, text, httpStatus);
  if (kind === undefined && request === undefined && $metadata === undefined) return undefined;
  const sorted = kind ?? AwsFailureKind.failed;
  return {
    kind: sorted,
    code: CODES[sorted],
    name: socketCode !== undefined && errorName === 'Error' ? socketCode : errorName,
    message: text,
    httpStatus,
    attempts: typeof $metadata?.attempts === 'number' ? $metadata.attempts : undefined,
    request,
  };
}

function kindOf(
  name: string,
  code: string | undefined,
  message: string,
  status: number | undefined,
): AwsFailureKind | undefined {
  if (name === 'TimeoutError' || (code !== undefined && TIMEOUT_CODES.has(code))) return 'timeout';
  if (code !== undefined && UNREACHABLE_CODES.has(code)) return 'unreachable';
  if (code !== undefined && UNKNOWN_HOST_CODES.has(code)) return 'unknown-host';
  if (name === 'CredentialsProviderError' || /could not load credentials/i.test(message)) {
    return 'no-credentials';
  }
  if (/region is missing/i.test(message)) return 'no-region';
  if (REJECTED_NAMES.has(name)) return 'credentials-rejected';
  if (EXPIRED_NAMES.has(name)) return 'credentials-expired';
  if (name === 'AccessDeniedException' || name === 'AccessDenied' || status === 403) return 'access-denied';
  if (NOT_FOUND_NAMES.has(name)) return 'not-found';
  if (THROTTLED_NAMES.has(name) || status === 429) return 'throttled';
  return undefined;
}

/**
 * One AWS request that failed, told the same way by every command: the service, the operation,
 * the endpoint, what happened and what to check. `kind` and `failure` carry the sorted SDK error,
 * which is also the `cause`.
 */
export class AwsRequestError extends DdbLakeError {
  readonly kind: AwsFailureKind;
  readonly failure: AwsFailure;

  constructor(failure: AwsFailure, context: AwsRequestContext = {}, options?: { cause?: unknown }) {
    super(failure.code, describeAwsFailure(failure, context), options);
    this.kind = failure.kind;
    this.failure = failure;
  }
}

/**
 * The error to throw for a failed AWS call: an `AwsRequestError` saying what to check when
 * `error` is an SDK or network error (`awsFailureOf`), and `error` unchanged otherwise (errors of
 * ours keep their own message, bugs their stack, an `AbortError` stays one).
 */
export function awsRequestError(error: unknown, context: AwsRequestContext = {}): unknown {
  const failure = awsFailureOf(error);
  return failure === undefined ? error : new AwsRequestError(failure, context, { cause: error });
}

/** The message of a sorted failure: what failed where, what happened, what to check, what next. */
export function describeAwsFailure(failure: AwsFailure, context: AwsRequestContext = {}): string {
  const request = failure.request;
  const service = request?.service ?? context.service ?? 'AWS';
  const operation = request?.operation ?? context.operation;
  const call = [service, operation].filter(Boolean).join(' ');
  const about = context.about === undefined ? '' : ` for ${context.about}`;
  const at =
    request?.endpoint !== undefined
      ? ` at ${request.endpoint}`
      : request?.region !== undefined
        ? ` (the ${service} endpoint of ${request.region})`
        : '';
  const subject = `${call}${about}${at}`;
  const tries =
    failure.attempts !== undefined && failure.attempts > 1 ? `; ${failure.attempts} attempts` : '';
  const status = failure.httpStatus === undefined ? '' : `, HTTP ${failure.httpStatus}`;
  const said = failure.message.includes(failure.name)
    ? `${failure.message}${status}`
    : `${failure.name}${status}: ${failure.message}`;
  const endpointFlag = service === 'S3' ? '--endpoint-url or AWS_ENDPOINT_URL_S3' : '--endpoint-url';
  const next = context.next === undefined ? '' : ` ${context.next}`;
  switch (failure.kind) {
    case 'timeout':
      return (
        `${subject} did not answer in time (${said}${tries}). Check ${endpointFlag}: that it names a ${service} ` +
        'endpoint, that the server there is up, and the network path to it (proxy, firewall, VPC endpoint); ' +
        `a slow but working link may need a longer --cli-connect-timeout or --cli-read-timeout.${next}`
      );
    case 'unreachable':
      return (
        `${subject} could not be reached (${said}${tries}). Check ${endpointFlag} (host and port) and that ` +
        `the server there is running.${next}`
      );
    case 'unknown-host':
      return (
        `${subject}: the host name does not resolve (${said}). Check ${endpointFlag} and --region, and the ` +
        `machine's DNS.${next}`
      );
    case 'no-credentials':
      return (
        `No AWS credentials were found for ${subject}. Pass --profile or set AWS_PROFILE, export ` +
        'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, run aws sso login for an SSO profile, or run where ' +
        `an instance or task role is available.${next}`
      );
    case 'credentials-rejected':
      return (
        `${service} rejected the credentials of ${subject} (${said}). Check which credentials are in use ` +
        `(--profile, AWS_PROFILE, AWS_ACCESS_KEY_ID), and --region and ${endpointFlag}.${next}`
      );
    case 'credentials-expired':
      return (
        `The credentials of ${subject} have expired (${said}). Refresh them (aws sso login, a new session ` +
        `token) or choose another --profile.${next}`
      );
    case 'access-denied': {
      const needed =
        context.permissions !== undefined && context.permissions.length > 0
          ? context.permissions.join(', ')
          : operation === undefined
            ? 'the permission the service names'
            : `${service === 'S3' ? 's3' : 'dynamodb'}:${operation}`;
      return (
        `${subject} was denied (${said}). The caller needs ${needed}: grant it in the caller's IAM policy ` +
        `(ddb-lake plan prints one), or use another --profile.${next}`
      );
    }
    case 'not-found':
      return (
        `${subject}: ${service} has no such resource (${said}). Check the name, --region, --profile and ` +
        `${endpointFlag}.${next}`
      );
    case 'no-region':
      return (
        `No AWS region is configured for ${call}${about}. Pass --region, set AWS_REGION, or set a region in ` +
        `the profile.${next}`
      );
    case 'throttled':
      return `${subject} was throttled (${said}${tries}). Retry later, or at a lower rate.${next}`;
    case 'failed':
      return `${subject} failed (${said}${tries}). Check ${endpointFlag}, --region and --profile, then retry.${next}`;
  }
}
