import { createHash, type Hash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
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
const WORKER_MIN_BYTES = 16 * 1024 * 1024;
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

/**
 * The SHA-256 of a file being written, read back from its descriptor in order as its prefix is
 * written: what is hashed is what is on disk, in whatever order the writes landed.
 */
export interface FileHash {
  /** Bytes [0, n) of the file are written: hash them, when it can, in order. */
  upTo(n: number): void;
  /** The hash of every byte made known by `upTo`, once they are read. */
  digest(): Promise<string>;
  /** Abandoned; resolves once the file is no longer read (its descriptor may then be closed). */
  drop(): Promise<void>;
}

/** The hashes of the files of one download: on a worker thread of its own, or on this one. */
export interface Hashers {
  start(handle: FileHandle): FileHash;
  close(): Promise<void>;
}

/** Bytes read back at once to hash. */
const READ_SIZE = 1024 * 1024;

/**
 * The worker, as source text rather than a module file, so that it runs the same from the compiled
 * package and from source (this package's tests). A descriptor is the process's, so the worker
 * reads the very file the main thread writes; one buffer for every file: memory stays constant.
 */
const HASH_WORKER = `
const { parentPort } = require("node:worker_threads");
const { readSync } = require("node:fs");
const { createHash } = require("node:crypto");
const buffer = Buffer.allocUnsafe(${READ_SIZE});
const files = new Map();
parentPort.on("message", ({ id, fd, upTo, end }) => {
  let file = files.get(id);
  if (!file) files.set(id, (file = { hash: createHash("sha256"), at: 0, error: undefined }));
  try {
    while (!file.error && upTo !== undefined && file.at < upTo) {
      const read = readSync(fd, buffer, 0, Math.min(buffer.length, upTo - file.at), file.at);
      if (read === 0) throw new Error("the file is shorter than what was written to it");
      file.hash.update(buffer.subarray(0, read));
      file.at += read;
    }
  } catch (err) {
    file.error = String((err && err.message) || err);
  }
  if (!end) return;
  files.delete(id);
  if (end === "digest" && !file.error) parentPort.postMessage({ id, sha256: file.hash.digest("hex") });
  else parentPort.postMessage({ id, error: file.error });
});
`;

/**
 * SHA-256 on a worker thread for a large download (`totalBytes` at least WORKER_MIN_BYTES), so that
 * hashing runs beside the receiving and writing instead of taking turns with them on this thread;
 * on this thread for a small one, which a worker's start would only slow.
 */
export function hashersFor(totalBytes: number): Hashers {
  return totalBytes >= WORKER_MIN_BYTES ? workerHashers() : localHashers;
}

const localHashers: Hashers = {
  start(handle) {
    const hash = createHash("sha256");
    let at = 0;
    let dropped = false;
    let reading: Promise<void> = Promise.resolve();
    let buffer: Buffer | undefined;
    const readTo = async (n: number) => {
      while (at < n && !dropped) {
        buffer ??= Buffer.allocUnsafe(READ_SIZE);
        const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, n - at), at);
        if (bytesRead === 0) throw new Error("the file is shorter than what was written to it");
        hash.update(buffer.subarray(0, bytesRead));
        at += bytesRead;
      }
    };
    return {
      upTo(n) {
        reading = reading.then(() => readTo(n));
      },
      async digest() {
        await reading;
        return hash.digest("hex");
      },
      async drop() {
        dropped = true;
        await reading.catch(() => {});
      },
    };
  },
  close: async () => {},
};

function workerHashers(): Hashers {
  // Not unref'd: a download waiting for nothing but a digest must not see the process exit.
  const worker = new Worker(HASH_WORKER, { eval: true, execArgv: [] });
  const ending = new Map<number, { resolve: (sha256: string | undefined) => void; reject: (err: Error) => void }>();
  let failure: Error | undefined;
  let next = 0;
  worker.on("message", (m: { id: number; sha256?: string; error?: string }) => {
    const end = ending.get(m.id);
    ending.delete(m.id);
    if (m.error) end?.reject(new Error(m.error));
    else end?.resolve(m.sha256);
  });
  const fail = (err: Error) => {
    failure ??= err;
    for (const end of ending.values()) end.reject(failure);
    ending.clear();
  };
  worker.on("error", fail);
  worker.on("exit", (code) => fail(new Error(`the hashing thread stopped (exit code ${code})`)));
  const end = (id: number, how: "digest" | "drop") =>
    new Promise<string | undefined>((resolve, reject) => {
      if (failure) return reject(failure);
      ending.set(id, { resolve, reject });
      worker.postMessage({ id, end: how });
    });

  return {
    start(handle) {
      const id = next++;
      const { fd } = handle;
      return {
        upTo(n) {
          if (!failure) worker.postMessage({ id, fd, upTo: n });
        },
        async digest() {
          const sha256 = await end(id, "digest");
          if (sha256 === undefined) throw new Error("the hashing thread answered no hash");
          return sha256;
        },
        // A failed thread reads nothing any more either.
        drop: () =>
          end(id, "drop").then(
            () => {},
            () => {},
          ),
      };
    },
    async close() {
      worker.removeAllListeners("exit");
      await worker.terminate();
    },
  };
}
