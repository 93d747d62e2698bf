import {
  DescribeTableCommand,
  type DescribeTableCommandOutput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { tableNameOf } from '../formats/change-file-key.ts';
import { SUPPORTED_STREAM_VIEW_TYPES, UnsupportedStreamViewTypeError } from './errors.ts';
import { NoStreamError, requestError } from './stream-poller-errors.ts';

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
 * `UnsupportedStreamViewTypeError` when its stream cannot rebuild rows (KEYS_ONLY, OLD_IMAGE), `CaptureRequestError`
 * when DynamoDB refuses the request (access, region, credentials).
 */
export async function tableStream(dynamodb: DynamoDBClient, tableOrArn: string): Promise<TableStream> {
  const table = tableNameOf(tableOrArn);
  if (STREAM_ARN.test(tableOrArn)) return { table, streamArn: tableOrArn };
  let description: DescribeTableCommandOutput;
  try {
    description = await dynamodb.send(new DescribeTableCommand({ TableName: tableOrArn }));
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') {
      throw new NoStreamError(table, 'DynamoDB has no table of that name here', {
        cause: error,
        next: 'Check the name and --region (and --endpoint-url, --profile).',
      });
    }
    throw requestError('DescribeTable', `table ${table}`, error);
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
