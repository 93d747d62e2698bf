import {
  DescribeTableCommand,
  type DescribeTableCommandOutput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { tableNameOf } from '../formats/change-file-key.ts';
import { SUPPORTED_STREAM_VIEW_TYPES, UnsupportedStreamViewTypeError } from './errors.ts';
import { captureRequestError, NoStreamError } from './stream-poller-errors.ts';

/** The stream capture reads, and the table it belongs to. */
export interface TableStream {
  /** The table name: it names the change files and the checkpoints. */
  readonly table: string;
  readonly streamArn: string;
}

const STREAM_ARN = /^arn:aws[A-Za-z-]*:dynamodb:[^:]*:[^:]*:table\/[^/]+\/stream\/[^/]+$/;

/**
 * The stream to capture for `--table`: a stream ARN is taken as it is (to finish reading an older
 * stream of the table); a table name or ARN gives the table's latest stream (DescribeTable's
 * `LatestStreamArn`, which stays readable for 24 hours after the stream is disabled).
 * Throws `NoStreamError` when the table does not exist or never had a stream,
 * `UnsupportedStreamViewTypeError` when its stream cannot rebuild rows (KEYS_ONLY, OLD_IMAGE), the
 * shared `AwsRequestError` when DynamoDB refuses the request or cannot be reached (access, region,
 * credentials, endpoint), and the `AbortError` of a request `signal` cut short.
 */
export async function tableStream(
  dynamodb: DynamoDBClient,
  tableOrArn: string,
  signal?: AbortSignal,
): Promise<TableStream> {
  const table = tableNameOf(tableOrArn);
  if (STREAM_ARN.test(tableOrArn)) return { table, streamArn: tableOrArn };
  let description: DescribeTableCommandOutput;
  try {
    description = await dynamodb.send(
      new DescribeTableCommand({ TableName: tableOrArn }),
      signal === undefined ? {} : { abortSignal: signal },
    );
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') {
      throw new NoStreamError(table, 'DynamoDB has no table of that name here', {
        cause: error,
        next: 'Check the name and --region (and --endpoint-url, --profile).',
      });
    }
    if (signal?.aborted) throw error;
    throw captureRequestError('DynamoDB', 'DescribeTable', `table ${table}`, error);
  }
  const streamArn = description.Table?.LatestStreamArn;
  if (streamArn === undefined) throw new NoStreamError(table, 'the table has no stream');
  // Refused before reading anything, so that an idle KEYS_ONLY stream does not pass unnoticed.
  const viewType = description.Table?.StreamSpecification?.StreamViewType;
  if (viewType !== undefined && !(SUPPORTED_STREAM_VIEW_TYPES as readonly string[]).includes(viewType)) {
    throw new UnsupportedStreamViewTypeError(viewType, streamArn);
  }
  return { table, streamArn };
}
