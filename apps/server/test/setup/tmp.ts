import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    tmpRoot: string;
  }
}

/** One directory for every data dir the tests make, removed at the end. */
export default async function setup(project: TestProject) {
  const root = await mkdtemp(join(tmpdir(), "methodic-tests-"));
  project.provide("tmpRoot", root);
  return () => rm(root, { recursive: true, force: true });
}
