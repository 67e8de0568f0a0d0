import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { type FileHandle, open, stat } from "node:fs/promises";

/** The folders of an asset's folder that hold pieces: they start with a dot, never a component index. */
export const PIECES = ".pieces";
export const INCOMING = ".incoming";

export const isMissing = (err: unknown) => (err as NodeJS.ErrnoException).code === "ENOENT";

/** The size of a file; undefined when there is none. */
export async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

/**
 * Appends every chunk of `chunks` to `file`, each written before the next is read (so memory holds
 * one chunk, whatever the source's size), hashing them as they go. `before` sees the byte count a
 * chunk would reach before it is written, to stop a source that runs long. Answers the bytes written
 * and their SHA-256 in hex.
 */
export async function writeHashed(
  file: FileHandle,
  chunks: AsyncIterable<Buffer>,
  before: (total: number) => void = () => {},
): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of chunks) {
    before(size + chunk.length);
    for (let written = 0; written < chunk.length; ) {
      const { bytesWritten } = await file.write(chunk, written, chunk.length - written);
      written += bytesWritten;
    }
    hash.update(chunk);
    size += chunk.length;
  }
  return { size, sha256: hash.digest("hex") };
}

/** The SHA-256 of a file of exactly `size` bytes, read as a stream; undefined when there is no such file. */
export async function sha256Of(path: string, size: number): Promise<string | undefined> {
  if ((await sizeOf(path)) !== size) return undefined;
  const hash = createHash("sha256");
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
  return hash.digest("hex");
}

/** Reads each file in turn: a concatenation, streamed. */
export async function* concatenated(paths: string[]): AsyncIterable<Buffer> {
  for (const path of paths) yield* createReadStream(path) as AsyncIterable<Buffer>;
}

/** Makes the entries of a folder (files created or renamed in it) durable, as fsync does a file's bytes. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
