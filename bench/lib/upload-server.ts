// A Chronicle server for the upload and resume benchmarks, in a process of its own: testkit's
// startServer on the local disk driver, or on an S3 server running in another process. Prints
// {url, token}; answers "stats" with the blob bytes PUT to the server itself; closes (dropping its
// database and data) when stdin closes, or on SIGTERM or SIGINT.
import { type DatabaseDriver, startServer } from "@methodic/testkit";
import { listen, tell } from "./child.js";

export interface UploadServerOptions {
  database: DatabaseDriver;
  /** An S3 server in another process; without it, the local disk driver. */
  s3?: { endpoint: string; bucket: string };
  /** METHODIC_PART_SIZE; the server's default (64 MiB) unless given. */
  partSize?: number;
  /** More configuration, applied last (METHODIC_PUBLIC_URL, S3_PUBLIC_ENDPOINT, ...). */
  env?: Record<string, string>;
}

export interface UploadServerReady {
  url: string;
  token: string;
}

export interface UploadServerStats {
  /** Bytes PUT to the server's own blob routes (the local driver), by Content-Length. */
  blobBytes: number;
}

const options = JSON.parse(process.argv[2] ?? "{}") as UploadServerOptions;
if (options.s3) {
  // s3rver checks no signature, but the AWS SDK wants credentials to sign with.
  process.env.AWS_ACCESS_KEY_ID ??= "S3RVER";
  process.env.AWS_SECRET_ACCESS_KEY ??= "S3RVER";
}
// testkit's "s3" storage would run s3rver inside this process: the server starts on the local driver
// and the S3_* variables (applied after testkit's own) point it at the s3rver of another process.
const server = await startServer({
  database: options.database,
  storage: "local",
  env: {
    ...(options.s3 && {
      S3_BUCKET: options.s3.bucket,
      S3_ENDPOINT: options.s3.endpoint,
      S3_FORCE_PATH_STYLE: "true",
    }),
    ...(options.partSize && { METHODIC_PART_SIZE: String(options.partSize) }),
    ...options.env,
  },
});

listen(
  (command) => {
    if (command === "stats") tell({ blobBytes: server.received.blobBytes } satisfies UploadServerStats);
  },
  async () => {
    await server.close();
    process.exit(0);
  },
);

tell({ url: server.url, token: server.token } satisfies UploadServerReady);
