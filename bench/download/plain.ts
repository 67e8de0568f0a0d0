// The plain side of the download benchmark, in a process of its own: what a user would write with
// the AWS SDK alone to fetch an asset's objects as fast as storage gives them. It lists the objects
// under the asset's key prefix, GETs each in ranges of `rangeSize` bytes (`concurrency` ranges in
// flight across all objects), writes every chunk at its offset (positional writes, so ranges land in
// any order), and fsyncs each file once its last range is in. No hashing, no resume, no retry.
// Tells {seconds, bytes, files}.
import { type FileHandle, mkdir, open } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { listen, tell } from "../lib/child.js";
import { listObjects, type S3Target, s3ClientFor } from "../lib/s3.js";
import type { DownloadDone } from "./compare.js";

export interface PlainOptions {
  target: S3Target;
  /** `assets/<asset id>/`: the asset's objects, one per component, named by component index. */
  prefix: string;
  /** Each object goes to `<directory>/<its name under the prefix>`. */
  directory: string;
  rangeSize: number;
  concurrency: number;
}

const options = JSON.parse(process.argv[2] ?? "{}") as PlainOptions;
listen(
  () => {},
  async () => process.exit(0),
);

const client = s3ClientFor(options.target);
const Bucket = options.target.bucket;

interface Output {
  path: string;
  /** Ranges still to come; the file is fsynced and closed when none are left. */
  left: number;
  /** Opened by its first range. */
  handle?: Promise<FileHandle>;
}

/** One range of an object onto its file, each chunk written where it belongs as it arrives. */
async function fetchRange(key: string, output: Output, start: number, end: number): Promise<void> {
  output.handle ??= open(output.path, "w");
  const handle = await output.handle;
  const answer = await client.send(new GetObjectCommand({ Bucket, Key: key, Range: `bytes=${start}-${end}` }));
  let position = start;
  for await (const chunk of answer.Body as Readable) {
    const bytes = chunk as Buffer;
    await handle.write(bytes, 0, bytes.length, position);
    position += bytes.length;
  }
  if (position !== end + 1) throw new Error(`${key} bytes ${start}-${end}: ${position - start} bytes came`);
  if (--output.left === 0) {
    await handle.sync();
    await handle.close();
  }
}

const started = performance.now();
const cpu = process.cpuUsage();
const objects = await listObjects(options.target, options.prefix);
await mkdir(options.directory, { recursive: true });
const ranges: { key: string; output: Output; start: number; end: number }[] = [];
for (const { key, size } of objects) {
  const path = join(options.directory, key.slice(options.prefix.length));
  if (size === 0) {
    // No range to ask for: the file is only created.
    await (await open(path, "w")).close();
    continue;
  }
  const count = Math.ceil(size / options.rangeSize);
  const output: Output = { path, left: count };
  for (let i = 0; i < count; i++) {
    const start = i * options.rangeSize;
    ranges.push({ key, output, start, end: Math.min(start + options.rangeSize, size) - 1 });
  }
}
// `concurrency` workers, each taking the next range when its last one is written: ranges in flight.
let next = 0;
const worker = async () => {
  for (let range = ranges[next++]; range; range = ranges[next++]) {
    await fetchRange(range.key, range.output, range.start, range.end);
  }
};
await Promise.all(Array.from({ length: options.concurrency }, worker));
const seconds = (performance.now() - started) / 1000;
const used = process.cpuUsage(cpu);
const cpuSeconds = (used.user + used.system) / 1e6;

const bytes = objects.reduce((sum, o) => sum + o.size, 0);
tell({ seconds, bytes, files: objects.length, cpuSeconds } satisfies DownloadDone);
process.exit(0);
