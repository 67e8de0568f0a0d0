import {
  CreateBucketCommand,
  HeadBucketCommand,
  PutBucketCorsCommand,
  PutBucketLifecycleConfigurationCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import type { S3Config } from "../config.js";

export interface BucketSetup {
  /** The dashboard's origin (METHODIC_PUBLIC_URL), which may GET presigned download URLs. */
  publicOrigin: string;
  /** Incomplete multipart uploads are aborted this long after they began (the pending-asset TTL). */
  abortIncompleteAfterDays: number;
}

/** What was done, one line each, for a person reading the output. */
export type SetupReport = string[];

/** Errors by which a store says it has no such feature, rather than that the request was wrong. */
const UNSUPPORTED = new Set(["NotImplemented", "InvalidArgument", "MalformedXML", "XNotImplemented"]);

/**
 * Gets a bucket ready for Chronicle: creates it when it is missing, adds a lifecycle rule that aborts
 * incomplete multipart uploads after the pending-asset TTL (so that a crash between starting an upload
 * and recording it leaks nothing for long), and lets the dashboard's origin GET objects by presigned
 * URL (CORS). A store without the lifecycle or CORS API (MinIO has both as server settings instead)
 * is told about, not failed.
 */
export async function setupBucket(config: S3Config, setup: BucketSetup): Promise<SetupReport> {
  const client = new S3Client({
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    ...(config.endpoint && { endpoint: config.endpoint }),
    ...(config.credentials && { credentials: config.credentials }),
  });
  const Bucket = config.bucket;
  const report: SetupReport = [];
  const optional = async (what: string, fallback: string, send: () => Promise<unknown>) => {
    try {
      await send();
      report.push(what);
    } catch (err) {
      if (!(err instanceof S3ServiceException && UNSUPPORTED.has(err.name))) throw err;
      report.push(`this store has no API for ${fallback} (${err.name})`);
    }
  };
  try {
    try {
      await client.send(new HeadBucketCommand({ Bucket }));
      report.push(`bucket ${Bucket} exists`);
    } catch (err) {
      if (!(err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404)) throw err;
      await client.send(new CreateBucketCommand({ Bucket }));
      report.push(`bucket ${Bucket} created`);
    }
    const days = Math.max(1, setup.abortIncompleteAfterDays);
    await optional(
      `incomplete multipart uploads are aborted after ${days} day(s)`,
      "lifecycle rules: set its own expiry of stale uploads (MinIO: MINIO_API_STALE_UPLOADS_EXPIRY)",
      () =>
        client.send(
          new PutBucketLifecycleConfigurationCommand({
            Bucket,
            LifecycleConfiguration: {
              Rules: [
                {
                  ID: "chronicle-abort-incomplete-uploads",
                  Status: "Enabled",
                  Filter: { Prefix: "assets/" },
                  AbortIncompleteMultipartUpload: { DaysAfterInitiation: days },
                },
              ],
            },
          }),
        ),
    );
    await optional(
      `${setup.publicOrigin} may GET objects by presigned URL (CORS)`,
      `bucket CORS: allow ${setup.publicOrigin} in its own settings (MinIO: MINIO_API_CORS_ALLOW_ORIGIN)`,
      () =>
        client.send(
          new PutBucketCorsCommand({
            Bucket,
            CORSConfiguration: {
              CORSRules: [
                {
                  AllowedOrigins: [setup.publicOrigin],
                  AllowedMethods: ["GET", "HEAD"],
                  AllowedHeaders: ["*"],
                  ExposeHeaders: ["Content-Length", "Content-Range", "ETag"],
                  MaxAgeSeconds: 3600,
                },
              ],
            },
          }),
        ),
    );
    return report;
  } finally {
    client.destroy();
  }
}
