import { CreateBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";

/** Where a bucket of the benchmarks' S3 server (MinIO) is, and the credentials to reach it with. */
export interface S3Target {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
}

/**
 * An S3 client as a user would configure one for an S3-compatible server: path-style addressing,
 * and checksums only where an operation requires them or the caller asks for one (the SDK's defaults
 * since 3.729 add a CRC32 to every upload; the project keeps WHEN_REQUIRED everywhere, the server's
 * own clients included, so that no side pays for checksums it did not choose).
 */
export function s3ClientFor(target: Omit<S3Target, "bucket">): S3Client {
  return new S3Client({
    endpoint: target.endpoint,
    region: target.region,
    forcePathStyle: true,
    credentials: { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** Runs `work` with a client of the target, destroyed after (its sockets would keep the process up). */
async function withClient<T>(target: S3Target, work: (client: S3Client) => Promise<T>): Promise<T> {
  const client = s3ClientFor(target);
  try {
    return await work(client);
  } finally {
    client.destroy();
  }
}

export const createBucket = (target: S3Target): Promise<void> =>
  withClient(target, async (client) => {
    await client.send(new CreateBucketCommand({ Bucket: target.bucket }));
  });

/** The keys and sizes of the bucket's objects under `prefix`, in key order. */
export const listObjects = (target: S3Target, prefix = ""): Promise<{ key: string; size: number }[]> =>
  withClient(target, async (client) => {
    const objects: { key: string; size: number }[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: target.bucket, Prefix: prefix, ContinuationToken }),
      );
      for (const o of page.Contents ?? []) if (o.Key) objects.push({ key: o.Key, size: o.Size ?? 0 });
      ContinuationToken = page.NextContinuationToken;
    } while (ContinuationToken);
    return objects;
  });

/** Deletes every object of the bucket (between rounds, so that the disk does not fill up). */
export async function emptyBucket(target: S3Target): Promise<void> {
  const keys = (await listObjects(target)).map(({ key }) => ({ Key: key }));
  await withClient(target, async (client) => {
    for (let i = 0; i < keys.length; i += 1000) {
      const Objects = keys.slice(i, i + 1000);
      await client.send(new DeleteObjectsCommand({ Bucket: target.bucket, Delete: { Objects, Quiet: true } }));
    }
  });
}
