// An S3 protocol server (s3rver) with one bucket, in a process of its own so that its memory is not
// counted as the Chronicle server's. Prints {endpoint, bucket}; stops and deletes its data when stdin
// closes.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";
import { listen, tell } from "../lib/child.js";

export interface S3Ready {
  endpoint: string;
  bucket: string;
}

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

tell({ endpoint: `http://127.0.0.1:${port}`, bucket } satisfies S3Ready);
