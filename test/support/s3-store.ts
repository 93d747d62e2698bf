import { S3_SERVER_CREDENTIALS, S3_SERVER_REGION, type S3Server } from '../../src/local/s3-server.ts';
import { S3Store } from '../../src/storage/s3-store.ts';

/** A store on the in-process S3-compatible server: `bucket`, under `prefix` when one is given. */
export function s3StoreOn(server: S3Server, bucket: string, prefix?: string): S3Store {
  return new S3Store({
    bucket,
    ...(prefix === undefined ? {} : { prefix }),
    endpointUrl: server.endpoint,
    region: S3_SERVER_REGION,
    credentials: S3_SERVER_CREDENTIALS,
  });
}
