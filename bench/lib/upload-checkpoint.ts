import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { MiB } from "./proc.js";
import { writeRandomFile } from "./random-file.js";

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
export function checkpointShape(scale: number): CheckpointFile[] {
  return FULL_SHAPE.map(({ path, mib }) => ({ path, size: Math.max(1, Math.round(mib * MiB * scale)) }));
}

/** Writes the files (random bytes) under `directory`; answers them and their total size. */
export async function writeCheckpoint(
  directory: string,
  files: CheckpointFile[],
): Promise<{ files: CheckpointFile[]; totalBytes: number }> {
  await mkdir(directory, { recursive: true });
  for (const file of files) await writeRandomFile(join(directory, file.path), file.size);
  return { files, totalBytes: files.reduce((sum, f) => sum + f.size, 0) };
}
