import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import { migrate } from "drizzle-orm/pglite/migrator";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    pgliteTemplate: string;
  }
}

/**
 * Creating a PGlite database runs initdb (about 2 s); loading a dump of a migrated one takes a fraction
 * of that. Every test file starts from this dump.
 */
export default async function setup(project: TestProject) {
  const client = await PGlite.create();
  await migrate(drizzle(client), { migrationsFolder: join(import.meta.dirname, "../../drizzle") });
  const dump = await client.dumpDataDir("none");
  await client.close();
  const path = join(tmpdir(), `methodic-pglite-template-${process.pid}.tar`);
  await writeFile(path, Buffer.from(await dump.arrayBuffer()));
  project.provide("pgliteTemplate", path);
}
