import type { _Record as SdkStreamRecord } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { SdkItem } from '../dynamo/sdk-interop.ts';
import { fromSdkItem } from '../dynamo/sdk-interop.ts';

/**
 * The record of a `DynamoDBStreamEvent` exactly as Lambda delivers it, from a record read with the
 * DynamoDB Streams API (`GetRecords`): images in DynamoDB JSON with binary as base64 text,
 * `ApproximateCreationDateTime` in epoch seconds (the SDK gives a Date), and `eventSourceARN` the
 * stream ARN. So the local poller drives the Lambda handler with the events Lambda would send.
 */
export function toLambdaRecord(record: SdkStreamRecord, streamArn: string): DynamoDBRecord {
  const change = record.dynamodb ?? {};
  const lambdaRecord: DynamoDBRecord = {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion ?? '1.1',
    eventSource: record.eventSource ?? 'aws:dynamodb',
    awsRegion: record.awsRegion,
    eventSourceARN: streamArn,
    dynamodb: {
      ...(change.ApproximateCreationDateTime === undefined
        ? {}
        : { ApproximateCreationDateTime: Math.floor(change.ApproximateCreationDateTime.getTime() / 1000) }),
      ...(change.Keys === undefined ? {} : { Keys: lambdaImage(change.Keys) }),
      ...(change.NewImage === undefined ? {} : { NewImage: lambdaImage(change.NewImage) }),
      ...(change.OldImage === undefined ? {} : { OldImage: lambdaImage(change.OldImage) }),
      SequenceNumber: change.SequenceNumber,
      SizeBytes: change.SizeBytes,
      StreamViewType: change.StreamViewType,
    },
  };
  if (record.userIdentity !== undefined) {
    lambdaRecord.userIdentity = {
      type: record.userIdentity.Type,
      principalId: record.userIdentity.PrincipalId,
    };
  }
  return lambdaRecord;
}

/** A Lambda event holding the given stream records, in their order. */
export function toLambdaEvent(records: readonly SdkStreamRecord[], streamArn: string): DynamoDBStreamEvent {
  return { Records: records.map((record) => toLambdaRecord(record, streamArn)) };
}

/**
 * An image in Lambda's form. An attribute the SDK form cannot convert (DynamoDB Local 3.x writes
 * an empty map into stream images as `{}`, without its `M` tag) stays as read, so that capture
 * quarantines the record with the reason, naming the attribute, and goes on; one record never
 * stops the poller.
 */
function lambdaImage(image: Record<string, unknown>): NonNullable<DynamoDBRecord['dynamodb']>['Keys'] {
  // The Streams SDK's AttributeValue has the same shape as the DynamoDB SDK's: B as bytes.
  try {
    return fromSdkItem(image as SdkItem) as never;
  } catch {
    const converted: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(image)) {
      try {
        Object.assign(converted, fromSdkItem({ [name]: value } as SdkItem));
      } catch {
        converted[name] = value;
      }
    }
    return converted as never;
  }
}
