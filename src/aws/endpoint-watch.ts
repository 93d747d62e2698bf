/** Which service and endpoint a failed AWS request went to, as a message to a person names them. */
export interface FailedRequest {
  /** The SDK's service id: `DynamoDB`, `DynamoDB Streams`, `S3`. */
  readonly service: string;
  /** The API operation: `DescribeTable`, `GetRecords`, `ListObjectsV2`. */
  readonly operation: string | undefined;
  /**
   * Where the request went: scheme, host and port (`http://127.0.0.1:8000`,
   * `https://dynamodb.eu-west-1.amazonaws.com`); undefined when it failed before an endpoint was
   * chosen (no region).
   */
  readonly endpoint: string | undefined;
  /** The client's region, when it has one. */
  readonly region: string | undefined;
}

type Handler = (args: unknown) => Promise<unknown>;

/** The part of an AWS SDK v3 client this module uses. */
export interface WatchableClient {
  readonly config: {
    readonly serviceId: string;
    readonly isCustomEndpoint?: boolean;
    readonly endpoint?: () => Promise<{ protocol: string; hostname: string; port?: number }>;
    readonly region: string | (() => Promise<string>);
  };
  readonly middlewareStack: {
    add(
      middleware: (next: Handler, context: { commandName?: string; endpointV2?: { url: URL } }) => Handler,
      options: { step: 'initialize'; priority: 'high'; name: string; override: boolean },
    ): void;
  };
}

const failures = new WeakMap<object, FailedRequest>();
const MIDDLEWARE_NAME = 'ddbLakeFailedRequest';

/**
 * Makes `client` remember, for every error its calls throw, which service, operation and endpoint
 * the call went to (read back with `failedRequestOf`). The record is taken outermost in the
 * middleware stack, so the error is the one the caller sees, after the SDK's retries. Returns the
 * same client; idempotent.
 */
export function watchEndpoint<C extends object>(client: C): C {
  const watched = client as unknown as WatchableClient;
  watched.middlewareStack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        if (typeof error === 'object' && error !== null && !failures.has(error)) {
          failures.set(error, await describeRequest(watched, context));
        }
        throw error;
      }
    },
    { step: 'initialize', priority: 'high', name: MIDDLEWARE_NAME, override: true },
  );
  return client;
}

/**
 * The request `error` came from, when a watched client threw it; the cause chain is followed, so
 * an error of ours that wraps an SDK error answers too.
 */
export function failedRequestOf(error: unknown): FailedRequest | undefined {
  for (let current = error, depth = 0; depth < 8; depth++) {
    if (typeof current !== 'object' || current === null) return undefined;
    const found = failures.get(current);
    if (found !== undefined) return found;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

async function describeRequest(
  client: WatchableClient,
  context: { commandName?: string; endpointV2?: { url: URL } },
): Promise<FailedRequest> {
  const config = client.config;
  const region = await Promise.resolve(typeof config.region === 'function' ? config.region() : config.region)
    // No region is itself a failure to report, not to hide behind another.
    .catch(() => undefined);
  let endpoint = context.endpointV2?.url.origin;
  if (endpoint === undefined && config.isCustomEndpoint === true && config.endpoint !== undefined) {
    // A request that failed before its endpoint was resolved (no credentials) still names the
    // endpoint the flags gave.
    endpoint = await config
      .endpoint()
      .then(
        ({ protocol, hostname, port }) => `${protocol}//${hostname}${port === undefined ? '' : `:${port}`}`,
      )
      .catch(() => undefined);
  }
  return {
    service: config.serviceId,
    operation: context.commandName?.replace(/Command$/, ''),
    endpoint,
    region,
  };
}
