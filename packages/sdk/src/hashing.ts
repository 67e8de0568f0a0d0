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

/** A SHA-256 fed in order with buffers it then owns (they may be moved to another thread). */
export interface RunningHash {
  /** Resolves once there is room for more: at most HASH_WINDOW bytes of a hash wait for the worker. */
  update(bytes: Uint8Array): Promise<void>;
  digest(): Promise<string>;
  /** The hash abandoned unfinished. */
  drop(): void;
}

/** Hashes for the files of one download: on a worker thread of its own, or on this one. */
export interface Hashers {
  start(): RunningHash;
  close(): Promise<void>;
}

/** Bytes of one hash handed to the worker and not yet hashed, at most: memory stays constant. */
const HASH_WINDOW = 8 * 1024 * 1024;

/**
 * The worker, as source text rather than a module file, so that it runs the same from the compiled
 * package and from source (this package's tests). Each message adds bytes to the hash of its id,
 * and is acknowledged, or ends that hash.
 */
const HASH_WORKER = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const hashes = new Map();
parentPort.on("message", ({ id, bytes, end }) => {
  let hash = hashes.get(id);
  if (!hash) hashes.set(id, (hash = createHash("sha256")));
  if (bytes) {
    hash.update(bytes);
    parentPort.postMessage({ id, hashed: bytes.byteLength });
  }
  if (end) hashes.delete(id);
  if (end === "digest") parentPort.postMessage({ id, sha256: hash.digest("hex") });
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
  start() {
    const hash = createHash("sha256");
    return {
      update: async (bytes) => void hash.update(bytes),
      digest: async () => hash.digest("hex"),
      drop() {},
    };
  },
  close: async () => {},
};

interface Pending {
  /** Bytes posted and not yet acknowledged. */
  waiting: number;
  room?: () => void;
  digest?: { resolve: (sha256: string) => void; reject: (err: Error) => void };
  fail?: (err: Error) => void;
}

function workerHashers(): Hashers {
  const worker = new Worker(HASH_WORKER, { eval: true, execArgv: [] });
  // The download's own work keeps the process alive; an idle hasher must not.
  worker.unref();
  const pending = new Map<number, Pending>();
  let failure: Error | undefined;
  let next = 0;
  const fail = (err: Error) => {
    failure ??= err;
    for (const p of pending.values()) {
      p.digest?.reject(failure);
      p.fail?.(failure);
    }
    pending.clear();
  };
  worker.on("message", (m: { id: number; hashed?: number; sha256?: string }) => {
    const p = pending.get(m.id);
    if (!p) return;
    if (m.hashed !== undefined) {
      p.waiting -= m.hashed;
      if (p.waiting <= HASH_WINDOW) p.room?.();
    }
    if (m.sha256 !== undefined) {
      pending.delete(m.id);
      p.digest?.resolve(m.sha256);
    }
  });
  worker.on("error", fail);
  worker.on("exit", (code) => fail(new Error(`the hashing thread stopped (exit code ${code})`)));

  return {
    start() {
      const id = next++;
      const p: Pending = { waiting: 0 };
      pending.set(id, p);
      return {
        async update(bytes) {
          if (failure) throw failure;
          // Only a buffer that owns all of its memory moves; a slice of a shared pool is copied first.
          // (Buffer.from would take a small copy from the pool again.)
          const own =
            bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
          p.waiting += own.byteLength;
          worker.postMessage({ id, bytes: own }, [own.buffer as ArrayBuffer]);
          if (p.waiting <= HASH_WINDOW) return;
          await new Promise<void>((resolve, reject) => {
            p.room = resolve;
            p.fail = reject;
          });
          p.room = p.fail = undefined;
        },
        digest() {
          if (failure) return Promise.reject(failure);
          return new Promise<string>((resolve, reject) => {
            p.digest = { resolve, reject };
            worker.postMessage({ id, end: "digest" });
          });
        },
        drop() {
          if (!pending.delete(id) || failure) return;
          worker.postMessage({ id, end: "drop" });
        },
      };
    },
    async close() {
      worker.removeAllListeners("exit");
      await worker.terminate();
    },
  };
}
