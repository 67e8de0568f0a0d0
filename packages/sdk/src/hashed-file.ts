import { createHash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { Worker } from "node:worker_threads";
import { WORKER_MIN_BYTES } from "./hashing.js";

/**
 * A file being downloaded: its writes, and its SHA-256 over what is on disk, in order. Bytes
 * written at the end of the hashed prefix are hashed as they are written; bytes written past it (a
 * range that landed early) are read back once the prefix reaches them.
 */
export interface HashedFile {
  /**
   * `length` bytes of `buffer` written at `position`; answers the buffer to fill again (it may have
   * been moved to another thread and back). One write of a file at a time.
   */
  write(buffer: Buffer, length: number, position: number): Promise<Buffer>;
  /** Bytes [0, n) of the file are written: hash them, when it can, in order. */
  upTo(n: number): void;
  /** The hash of every byte made known by `upTo`, once they are hashed. */
  digest(): Promise<string>;
  /** Abandoned; resolves once the file is no longer read or written (its descriptor may be closed). */
  drop(): Promise<void>;
}

/** The files of one download: written and hashed on a thread of their own, or on this one. */
export interface HashedFiles {
  start(handle: FileHandle): HashedFile;
  close(): Promise<void>;
}

/** Bytes read back at once to hash. */
const READ_SIZE = 1024 * 1024;

/**
 * Bytes per write system call. The page cache takes a write in folios as large as the write, and
 * on this machine (a VM) filling large ones costs several times the CPU of filling 64 KiB ones:
 * 2 GiB in 1 MiB writes took 2.6 to 2.8 s of system CPU, in 64 KiB writes 0.8 to 1.3 s (measured).
 */
const WRITE_SLICE = 64 * 1024;

/**
 * The thread, as source text rather than a module file, so that it runs the same from the compiled
 * package and from source (this package's tests). A descriptor is the process's, so it writes and
 * reads the very files the main thread opened; the buffers written go back with the answer. It
 * writes every file of the download, one write at a time: writes to one file at once contend for
 * its inode lock, which the kernel spins for.
 */
const FILE_THREAD = `
const { parentPort } = require("node:worker_threads");
const { readSync, writeSync } = require("node:fs");
const { createHash } = require("node:crypto");
const scratch = Buffer.allocUnsafe(${READ_SIZE});
const files = new Map();
const fileOf = (id) => {
  let file = files.get(id);
  if (!file) files.set(id, (file = { hash: createHash("sha256"), at: 0, error: undefined }));
  return file;
};
parentPort.on("message", (m) => {
  const file = fileOf(m.id);
  if (m.op === "write") {
    const bytes = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.length);
    let error;
    try {
      for (let done = 0; done < m.length; ) {
        done += writeSync(m.fd, bytes, done, Math.min(${WRITE_SLICE}, m.length - done), m.position + done);
      }
      if (m.position === file.at) {
        file.hash.update(bytes);
        file.at += m.length;
      }
    } catch (err) {
      error = { message: String((err && err.message) || err), code: err && err.code };
    }
    parentPort.postMessage({ seq: m.seq, bytes: m.bytes, error }, [m.bytes.buffer]);
    return;
  }
  try {
    while (!file.error && m.upTo !== undefined && file.at < m.upTo) {
      const read = readSync(m.fd, scratch, 0, Math.min(scratch.length, m.upTo - file.at), file.at);
      if (read === 0) throw new Error("the file is shorter than what was written to it");
      file.hash.update(scratch.subarray(0, read));
      file.at += read;
    }
  } catch (err) {
    file.error = String((err && err.message) || err);
  }
  if (!m.end) return;
  files.delete(m.id);
  if (m.end === "digest" && !file.error) parentPort.postMessage({ seq: m.seq, sha256: file.hash.digest("hex") });
  else parentPort.postMessage({ seq: m.seq, error: file.error && { message: file.error } });
});
`;

/**
 * On a thread of its own for a large download (`totalBytes` at least WORKER_MIN_BYTES): writing and
 * hashing run beside the receiving instead of taking turns with it. On this thread for a small
 * one, which a thread's start would only slow.
 */
export function hashedFilesFor(totalBytes: number): HashedFiles {
  return totalBytes >= WORKER_MIN_BYTES ? threadFiles() : localFiles;
}

const localFiles: HashedFiles = {
  start(handle) {
    const hash = createHash("sha256");
    let at = 0;
    let dropped = false;
    let reading: Promise<void> = Promise.resolve();
    let writing: Promise<unknown> = Promise.resolve();
    let scratch: Buffer | undefined;
    const readTo = async (n: number) => {
      while (at < n && !dropped) {
        scratch ??= Buffer.allocUnsafe(READ_SIZE);
        const { bytesRead } = await handle.read(scratch, 0, Math.min(scratch.length, n - at), at);
        if (bytesRead === 0) throw new Error("the file is shorter than what was written to it");
        hash.update(scratch.subarray(0, bytesRead));
        at += bytesRead;
      }
    };
    return {
      write(buffer, length, position) {
        const written = writing.then(() => handle.write(buffer, 0, length, position));
        writing = written.catch(() => {});
        return written.then(() => buffer);
      },
      upTo(n) {
        reading = reading.then(() => readTo(n));
      },
      async digest() {
        await reading;
        return hash.digest("hex");
      },
      async drop() {
        dropped = true;
        await Promise.all([reading.catch(() => {}), writing]);
      },
    };
  },
  close: async () => {},
};

interface Answer {
  seq: number;
  bytes?: Uint8Array;
  sha256?: string;
  error?: { message: string; code?: string };
}

function threadFiles(): HashedFiles {
  // Not unref'd: a download waiting for nothing but this thread must not see the process exit.
  const worker = new Worker(FILE_THREAD, { eval: true, execArgv: [] });
  const waiting = new Map<number, { resolve: (answer: Answer) => void; reject: (err: Error) => void }>();
  let failure: Error | undefined;
  let next = 0;
  let seq = 0;
  worker.on("message", (answer: Answer) => {
    const waiter = waiting.get(answer.seq);
    waiting.delete(answer.seq);
    if (answer.error) {
      waiter?.reject(Object.assign(new Error(answer.error.message), answer.error.code && { code: answer.error.code }));
    } else waiter?.resolve(answer);
  });
  const fail = (err: Error) => {
    failure ??= err;
    for (const waiter of waiting.values()) waiter.reject(failure);
    waiting.clear();
  };
  worker.on("error", fail);
  worker.on("exit", (code) => fail(new Error(`the download's file thread stopped (exit code ${code})`)));
  const ask = (message: object, transfer: ArrayBuffer[] = []) =>
    new Promise<Answer>((resolve, reject) => {
      if (failure) return reject(failure);
      const at = seq++;
      waiting.set(at, { resolve, reject });
      worker.postMessage({ ...message, seq: at }, transfer);
    });

  return {
    start(handle) {
      const id = next++;
      const { fd } = handle;
      return {
        async write(buffer, length, position) {
          // Only a buffer that owns all of its memory can move; a slice of a shared pool is copied
          // (into memory of its own: Buffer.from would take a small copy from the pool again).
          const own =
            buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength
              ? buffer
              : Buffer.from(new Uint8Array(buffer).buffer);
          const { bytes } = await ask({ op: "write", id, fd, position, length, bytes: own }, [
            own.buffer as ArrayBuffer,
          ]);
          return Buffer.from(bytes!.buffer, bytes!.byteOffset, bytes!.byteLength);
        },
        upTo(n) {
          if (!failure) worker.postMessage({ id, fd, upTo: n });
        },
        async digest() {
          const { sha256 } = await ask({ id, end: "digest" });
          if (sha256 === undefined) throw new Error("the download's file thread answered no hash");
          return sha256;
        },
        // A failed thread reads and writes nothing any more either.
        drop: () =>
          ask({ id, end: "drop" }).then(
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
