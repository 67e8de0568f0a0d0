// An S3 protocol server (s3rver) with one bucket, in a process of its own so that its memory is not
// counted as the Chronicle server's. Tells S3Ready; stops and deletes its data when stdin closes.
//
// Not the harness's startS3: it runs s3rver in the caller's process, and importing the harness loads
// the whole server too (some 30 MiB more RSS, measured), which the memory benchmark would report as
// s3rver's. The variables it tells are those startS3 gives a test server.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";
import { listen, tell } from "./child.js";
import type { S3Ready } from "./server.js";

const bucket = "methodic-bench";
const directory = await mkdtemp(join(tmpdir(), "methodic-bench-s3-"));
const s3 = new S3rver({
  address: "127.0.0.1",
  port: 0,
  silent: true,
  directory,
  configureBuckets: [{ name: bucket, configs: [] }],
});
const { port } = await s3.run();

listen(
  () => {},
  async () => {
    await s3.close();
    await rm(directory, { recursive: true, force: true });
    process.exit(0);
  },
);

const endpoint = `http://127.0.0.1:${port}`;
tell({
  endpoint,
  bucket,
  // s3rver checks no signature, but the AWS SDK wants credentials to sign with.
  env: {
    S3_BUCKET: bucket,
    S3_ENDPOINT: endpoint,
    S3_FORCE_PATH_STYLE: "true",
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? "S3RVER",
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? "S3RVER",
  },
} satisfies S3Ready);
