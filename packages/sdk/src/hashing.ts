import { createHash, type Hash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { eachLimited } from "./files.js";

/** A file's SHA-256, and for a file larger than the part size the SHA-256 of each part (else none). */
export interface FileHashes {
  sha256: string;
  partSha256?: string[];
}

/**
 * Hashes a file in one read: the whole of it, and each `partSize` bytes of it when it is larger than
 * that (what storage checks each part of a multipart upload against).
 */
export async function hashFile(path: string, size: number, partSize: number): Promise<FileHashes> {
  const whole = createHash("sha256");
  const parts: string[] = [];
  const inParts = size > partSize;
  let part: Hash | undefined;
  let inPart = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    const bytes = chunk as Buffer;
    whole.update(bytes);
    for (let offset = 0; inParts && offset < bytes.length; ) {
      part ??= createHash("sha256");
      const take = Math.min(partSize - inPart, bytes.length - offset);
      part.update(bytes.subarray(offset, offset + take));
      offset += take;
      inPart += take;
      if (inPart === partSize) {
        parts.push(part.digest("hex"));
        part = undefined;
        inPart = 0;
      }
    }
  }
  if (part) parts.push(part.digest("hex"));
  return { sha256: whole.digest("hex"), ...(inParts && { partSha256: parts }) };
}

/** Files at least this large are hashed in worker threads, several at once; smaller ones here. */
export const WORKER_MIN_BYTES = 16 * 1024 * 1024;
/** At most this many worker threads: each is a V8 instance of its own, some 10 MiB. */
const MAX_WORKERS = 4;
/** Small files hashed at once on this thread (each an open file). */
const SMALL_AT_ONCE = 8;

const workerScript = new URL("./hash-worker.js", import.meta.url);
/** Run from source (this package's own tests), there is no compiled worker: all is hashed here. */
const workersAvailable = existsSync(fileURLToPath(workerScript));

/** hashFile in a worker thread of its own. */
function hashFileInWorker(path: string, size: number, partSize: number): Promise<FileHashes> {
  return new Promise((resolve, reject) => {
    let hashes: FileHashes | undefined;
    // Not the parent's flags (a loader, --input-type): the worker is a plain module of this package.
    const worker = new Worker(workerScript, { workerData: { path, size, partSize }, execArgv: [] });
    worker.once("message", (answer: FileHashes) => {
      hashes = answer;
    });
    worker.once("error", reject);
    worker.once("exit", (code) => {
      if (hashes !== undefined) resolve(hashes);
      else reject(new Error(`hashing ${path} stopped (worker exit code ${code})`));
    });
  });
}

/**
 * The hashes of each file, in order. Large files are hashed in worker threads, as many at once as
 * there are cores (up to 4), while this thread hashes the small ones: the hashing that must precede
 * the upload (the manifest carries every hash) takes the time of the largest file, not of them all.
 */
export async function hashFiles(files: { absolute: string; size: number }[], partSize: number): Promise<FileHashes[]> {
  const hashes: FileHashes[] = new Array(files.length);
  const indexes = files.map((_, i) => i);
  const inWorker = (i: number) => workersAvailable && files[i]!.size >= WORKER_MIN_BYTES;
  const large = indexes.filter(inWorker);
  const small = indexes.filter((i) => !inWorker(i));
  await Promise.all([
    eachLimited(large, Math.min(MAX_WORKERS, Math.max(1, availableParallelism())), async (i) => {
      hashes[i] = await hashFileInWorker(files[i]!.absolute, files[i]!.size, partSize);
    }),
    eachLimited(small, SMALL_AT_ONCE, async (i) => {
      hashes[i] = await hashFile(files[i]!.absolute, files[i]!.size, partSize);
    }),
  ]);
  return hashes;
}
