import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join, relative, sep } from "node:path";
import { Worker } from "node:worker_threads";

export interface LocalFile {
  /** The component path: relative, POSIX separators. */
  path: string;
  absolute: string;
  size: number;
  mtimeMs: number;
}

/** Every regular file under `dir`, by path. Symbolic links and special files are left out. */
export async function listFiles(dir: string): Promise<LocalFile[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files: LocalFile[] = [];
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    // parentPath is Node 20.12's name for what older releases call path.
    const parent = entry.parentPath ?? (entry as { path?: string }).path ?? dir;
    const absolute = join(parent, entry.name);
    const info = await stat(absolute);
    files.push({
      path: relative(dir, absolute).split(sep).join("/"),
      absolute,
      size: info.size,
      mtimeMs: info.mtimeMs,
    });
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** SHA-256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Files at least this large are hashed in worker threads, several at once; smaller ones here. */
const WORKER_MIN_BYTES = 16 * 1024 * 1024;
/** At most this many worker threads: each is a V8 instance of its own, some 10 MiB. */
const MAX_WORKERS = 4;
/** Small files hashed at once on this thread (each an open file). */
const SMALL_AT_ONCE = 8;

// The worker's whole program (CommonJS, evaluated): hash the file it is given, post the hex digest.
const HASH_WORKER = `
const { createHash } = require("node:crypto");
const { createReadStream } = require("node:fs");
const { parentPort, workerData } = require("node:worker_threads");
(async () => {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(workerData, { highWaterMark: 1024 * 1024 })) hash.update(chunk);
  parentPort.postMessage(hash.digest("hex"));
})().catch((err) => { throw err; });
`;

/** SHA-256 of a file, computed in a worker thread of its own. */
function sha256FileInWorker(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let digest: string | undefined;
    // Not the parent's flags: `--input-type=module` (or a loader) would make this CommonJS text fail.
    const worker = new Worker(HASH_WORKER, { eval: true, workerData: path, execArgv: [] });
    worker.once("message", (hex: string) => {
      digest = hex;
    });
    worker.once("error", reject);
    worker.once("exit", (code) => {
      if (digest !== undefined) resolve(digest);
      else reject(new Error(`hashing ${path} stopped (worker exit code ${code})`));
    });
  });
}

/**
 * SHA-256 of each file, in order. Large files are hashed in worker threads, as many at once as there
 * are cores (up to 4), while this thread hashes the small ones: the hashing that must precede the upload (the
 * manifest carries every sha256) takes the time of the largest file rather than of them all.
 */
export async function sha256Files(files: { absolute: string; size: number }[]): Promise<string[]> {
  const hashes: string[] = new Array(files.length);
  const indexes = files.map((_, i) => i);
  const large = indexes.filter((i) => files[i]!.size >= WORKER_MIN_BYTES);
  const small = indexes.filter((i) => files[i]!.size < WORKER_MIN_BYTES);
  await Promise.all([
    eachLimited(large, Math.min(MAX_WORKERS, Math.max(1, availableParallelism())), async (i) => {
      hashes[i] = await sha256FileInWorker(files[i]!.absolute);
    }),
    eachLimited(small, SMALL_AT_ONCE, async (i) => {
      hashes[i] = await sha256File(files[i]!.absolute);
    }),
  ]);
  return hashes;
}

/** Throws when a file is no longer what was hashed: its bytes would not match the manifest. */
export async function assertUnchanged(file: LocalFile): Promise<void> {
  const now = await stat(file.absolute).catch(() => undefined);
  if (!now || now.size !== file.size || now.mtimeMs !== file.mtimeMs) {
    throw new Error(
      `${file.path} changed while it was being uploaded; its bytes would no longer match its sha256. ` +
        "Write checkpoints to a fresh directory and upload it once complete.",
    );
  }
}

/** Runs `work` on every item, `limit` at a time; the first failure rejects, after the rest settle. */
export async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failure) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}
