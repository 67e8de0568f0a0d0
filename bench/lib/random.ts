import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

const CHUNK = 1024 * 1024;

/** A file of `size` random bytes (incompressible, so no layer can shortcut it), written a chunk at a time. */
export async function writeRandomFile(path: string, size: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  function* chunks() {
    for (let left = size; left > 0; left -= CHUNK) yield randomBytes(Math.min(CHUNK, left));
  }
  await pipeline(Readable.from(chunks()), createWriteStream(path));
}

/** mulberry32: a small seeded generator in [0, 1), so that a run's random choices can be drawn again. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
