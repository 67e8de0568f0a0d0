// The Chronicle server under measurement, in a process of its own (the memory, upload and resume
// benchmarks): testkit's startServer on the drivers asked for. Prints {url, token}; answers "stats" with its JavaScript memory peaks and the blob bytes it received;
// closes (dropping its database and data) when stdin closes, or on SIGTERM or SIGINT.
import { type DatabaseDriver, startServer } from "@methodic/server/testing";
import { type JsMemory, listen, tell, watchJsMemory } from "./child.js";

export interface ServerOptions {
  database: DatabaseDriver;
  /** An S3 server in another process; without it, the local disk driver. */
  s3?: { endpoint: string; bucket: string };
  /** METHODIC_PART_SIZE; the server's default (64 MiB) unless given. */
  partSize?: number;
  /** More configuration, applied last (METHODIC_PUBLIC_URL, S3_PUBLIC_ENDPOINT, ...). */
  env?: Record<string, string>;
}

export interface ServerReady {
  url: string;
  token: string;
}

export interface ServerStats {
  /** JavaScript's peaks since the last "stats". */
  js: JsMemory;
  /** Bytes PUT to the server's own blob routes (the local driver); none on S3. */
  blobBytes: number;
}

const options = JSON.parse(process.argv[2] ?? "{}") as ServerOptions;
const js = watchJsMemory();

if (options.s3) {
  // s3rver checks no signature, but the AWS SDK wants credentials to sign with.
  process.env.AWS_ACCESS_KEY_ID ??= "S3RVER";
  process.env.AWS_SECRET_ACCESS_KEY ??= "S3RVER";
}
const server = await startServer({
  database: options.database,
  // testkit's "s3" would run s3rver in this very process, and its memory would count as the server's.
  // So the server starts on the local driver, and the S3_* variables (applied after testkit's own)
  // point it at the s3rver the bench runs in a process of its own.
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
    if (command === "stats") tell({ js: js.take(), blobBytes: server.received.blobBytes } satisfies ServerStats);
  },
  async () => {
    await server.close();
    process.exit(0);
  },
);

tell({ url: server.url, token: server.token } satisfies ServerReady);
