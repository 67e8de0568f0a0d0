import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";

/**
 * An S3 client for s3rver as a user would configure it for any S3-compatible server: path-style
 * addressing, and checksums only where an operation requires them (the SDK's defaults since 3.729
 * add CRC32 to every upload, which s3rver does not know).
 */
export function s3ClientFor(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** Deletes every object of the bucket (between rounds, so that the disk does not fill up). */
export async function emptyBucket(endpoint: string, bucket: string): Promise<void> {
  const client = s3ClientFor(endpoint);
  try {
    for (;;) {
      const list = await client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000 }));
      const keys = (list.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
      if (keys.length === 0) return;
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    }
  } finally {
    client.destroy();
  }
}
