// The lib-storage side of the upload benchmark, in a process of its own: what a user would write
// instead of the SDK to put a checkpoint directory on S3. Each file goes up with @aws-sdk/lib-storage's
// Upload (a stream body, `queueSize` parts in flight, `partSize` bytes each), either one file after
// the other (a for loop, the plain way) or all files at once (Promise.all), with no checksum (the
// client's WHEN_REQUIRED) or a SHA-256 of every part, which MinIO checks as it does the SDK's.
// Tells {seconds, bytes}.
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { listen, tell } from "../lib/child.js";
import { type S3Target, s3ClientFor } from "../lib/s3.js";

export interface LibStorageOptions {
  target: S3Target;
  /** Key prefix: where this round's copy goes. */
  prefix: string;
  directory: string;
  queueSize: number;
  partSize: number;
  files: "sequence" | "parallel";
  checksum: "none" | "sha256";
}

export interface LibStorageDone {
  seconds: number;
  bytes: number;
  /** Objects for which S3 keeps a SHA-256 checksum: what says whether checksums went with the parts. */
  withSha256: number;
}

const options = JSON.parse(process.argv[2] ?? "{}") as LibStorageOptions;
listen(
  () => {},
  async () => process.exit(0),
);

const client = s3ClientFor(options.target);
const Bucket = options.target.bucket;

async function filesOf(dir: string): Promise<{ key: string; path: string; size: number }[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = [];
  for (const entry of entries.filter((e) => e.isFile())) {
    const path = join(entry.parentPath, entry.name);
    const key = `${options.prefix}/${relative(dir, path).split(sep).join("/")}`;
    files.push({ key, path, size: (await stat(path)).size });
  }
  return files;
}

async function put(file: { key: string; path: string }): Promise<void> {
  const upload = new Upload({
    client,
    params: {
      Bucket,
      Key: file.key,
      Body: createReadStream(file.path),
      // Asked for explicitly, the checksum is computed even under WHEN_REQUIRED.
      ...(options.checksum === "sha256" && { ChecksumAlgorithm: "SHA256" as const }),
    },
    queueSize: options.queueSize,
    partSize: options.partSize,
  });
  await upload.done();
}

const started = performance.now();
const files = await filesOf(options.directory);
if (options.files === "parallel") {
  await Promise.all(files.map(put));
} else {
  for (const file of files) await put(file);
}
const seconds = (performance.now() - started) / 1000;

// Not timed: every object is there, whole, and which carry a checksum.
let withSha256 = 0;
for (const file of files) {
  const head = await client.send(new HeadObjectCommand({ Bucket, Key: file.key, ChecksumMode: "ENABLED" }));
  if (head.ContentLength !== file.size) {
    throw new Error(`${file.key} is ${head.ContentLength} bytes on S3, not ${file.size}`);
  }
  if (head.ChecksumSHA256) withSha256++;
}
tell({ seconds, bytes: files.reduce((sum, f) => sum + f.size, 0), withSha256 } satisfies LibStorageDone);
process.exit(0);
