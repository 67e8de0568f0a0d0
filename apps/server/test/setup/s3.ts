import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    s3: { endpoint: string; bucket: string; region: string };
  }
}

/**
 * An S3 protocol server for the S3 driver's tests: s3rver in this process, unless TEST_S3_ENDPOINT
 * names a real one (MinIO, AWS), with TEST_S3_BUCKET and the standard AWS credential variables.
 */
export default async function setup(project: TestProject) {
  if (process.env.TEST_S3_ENDPOINT) {
    project.provide("s3", {
      endpoint: process.env.TEST_S3_ENDPOINT,
      bucket: process.env.TEST_S3_BUCKET ?? "methodic-test",
      region: process.env.TEST_S3_REGION ?? "us-east-1",
    });
    return;
  }
  const directory = await mkdtemp(join(tmpdir(), "methodic-s3rver-"));
  const bucket = "methodic-test";
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const { port } = await server.run();
  project.provide("s3", { endpoint: `http://127.0.0.1:${port}`, bucket, region: "us-east-1" });
  return async () => {
    await server.close();
    await rm(directory, { recursive: true, force: true });
  };
}
