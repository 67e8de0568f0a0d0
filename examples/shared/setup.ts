import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Chronicle, CreateExperimentBody } from "@methodic/sdk";

/**
 * Creates the experiment an example records into: `EXPERIMENT` if set, else the example's name and
 * the time, so that every invocation starts afresh.
 */
export async function createExperiment(
  chronicle: Chronicle,
  name: string,
  fields: Omit<CreateExperimentBody, "id"> = {},
): Promise<string> {
  const stamp = new Date().toISOString().replace(/[-:.]/g, "").replace("T", "-").slice(0, 15);
  const id = process.env.EXPERIMENT ?? `${name}-${stamp}`;
  await chronicle.createExperiment({ id, ...fields });
  return id;
}

/** Where an example writes checkpoints and its upload tracker: `OUT_DIR`, else `./out/<experiment>`. */
export async function outDir(experimentId: string): Promise<string> {
  const dir = resolve(process.env.OUT_DIR ?? join("out", experimentId));
  await mkdir(dir, { recursive: true });
  return dir;
}
