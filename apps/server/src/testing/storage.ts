import { mkdtemp, rm } from "node:fs/promises";
import type { IncomingMessage, Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type StorageDriver = "local" | "s3";

/** The S3 endpoint a test server writes to, and the server's variables that point it there. */
export interface TestS3 {
  endpoint: string;
  bucket: string;
  env: Record<string, string>;
  /** File bytes PUT to it (by Content-Length, whether or not the request completed). */
  received: { blobBytes: number };
  close(): Promise<void>;
}

/**
 * An S3 protocol server with one bucket for one test server: s3rver in this process. It checks no
 * signature; the AWS SDK signs all the same, and wants credentials to sign with.
 */
export async function startS3(): Promise<TestS3> {
  const { default: S3rver } = await import("s3rver");
  const directory = await mkdtemp(join(tmpdir(), "methodic-s3-"));
  const bucket = "methodic-test";
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const { port } = await server.run();
  const received = { blobBytes: 0 };
  // s3rver is a Koa app and keeps the node:http server it listens on here (its types do not say so).
  (server as unknown as { httpServer: Server }).httpServer.on("request", (request: IncomingMessage) => {
    if (request.method === "PUT") received.blobBytes += Number(request.headers["content-length"] ?? 0);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    received,
    env: {
      S3_BUCKET: bucket,
      S3_ENDPOINT: endpoint,
      S3_FORCE_PATH_STYLE: "true",
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? "S3RVER",
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? "S3RVER",
    },
    close: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
