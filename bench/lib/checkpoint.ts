import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { integer, type Option } from "./options.js";
import { writeRandomFile } from "./random.js";
import { MiB } from "./stats.js";

/**
 * The shape of the checkpoint directory the upload and resume benchmarks send, at full scale: one
 * 1.5 GiB file (the weights) and a dozen smaller ones (optimizer shards, scheduler and RNG state)
 * that add up to 512 MiB, 2 GiB in all. Sizes in MiB.
 */
const FULL_SHAPE: { path: string; mib: number }[] = [
  { path: "model.safetensors", mib: 1536 },
  { path: "optimizer/shard-0.bin", mib: 128 },
  { path: "optimizer/shard-1.bin", mib: 96 },
  { path: "optimizer/shard-2.bin", mib: 64 },
  { path: "optimizer/shard-3.bin", mib: 64 },
  { path: "ema.bin", mib: 48 },
  { path: "optimizer/moments-0.bin", mib: 32 },
  { path: "optimizer/moments-1.bin", mib: 32 },
  { path: "embeddings.bin", mib: 24 },
  { path: "lr_scheduler.bin", mib: 16 },
  { path: "rng_state.bin", mib: 4 },
  { path: "trainer_state.bin", mib: 2 },
  { path: "config.bin", mib: 2 },
];

export interface CheckpointFile {
  path: string;
  size: number;
}

/** The files of a checkpoint `scale` times the full one (1 = 2 GiB), at least one byte each. */
function checkpointShape(scale: number): CheckpointFile[] {
  return FULL_SHAPE.map(({ path, mib }) => ({ path, size: Math.max(1, Math.round(mib * MiB * scale)) }));
}

export interface Checkpoint {
  directory: string;
  files: CheckpointFile[];
  totalBytes: number;
}

/**
 * Writes a checkpoint of about `sizeMiB` (the full shape, scaled) as random bytes to `work`/checkpoint,
 * once for every side and round: each reads it from the page cache.
 */
export async function writeCheckpoint(work: string, sizeMiB: number, log: (line: string) => void): Promise<Checkpoint> {
  const directory = join(work, "checkpoint");
  const files = checkpointShape(sizeMiB / 2048);
  log(`writing a ${sizeMiB} MiB checkpoint (${files.length} files of random bytes) to ${directory}`);
  await mkdir(directory, { recursive: true });
  for (const file of files) await writeRandomFile(join(directory, file.path), file.size);
  return { directory, files, totalBytes: files.reduce((sum, f) => sum + f.size, 0) };
}

/** What the JSON documents say of the checkpoint a run used. */
export const describeCheckpoint = (sizeMiB: number, checkpoint: Checkpoint) => ({
  sizeMiB,
  files: checkpoint.files,
  totalBytes: checkpoint.totalBytes,
});

/** `--size <MiB>`: the checkpoint's size. */
export const checkpointSize = (spec: { default: number; smoke: number }): Option<number> =>
  integer({ value: "<MiB>", help: "checkpoint size: one file of 3/4 of it and twelve\nsmaller ones", ...spec });

/** `--part-size <MiB>`, in bytes: the server's METHODIC_PART_SIZE, at least S3's smallest part. */
export function partSize(spec: { help: string; default: number; smoke: number }): Option<number> {
  const mib = integer({ value: "<MiB>", min: 5, ...spec, help: `${spec.help}\nat least 5, S3's smallest part` });
  return { ...mib, read: (text, smoke, flag) => mib.read(text, smoke, flag) * MiB };
}
