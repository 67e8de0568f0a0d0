import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { makePgliteSeed } from "../db/client.js";
import { createTemplateDatabase } from "./databases.js";
import { s3Availability, startMinio } from "./minio.js";

/**
 * What a whole test run shares, made once before any test file runs and handed to every worker
 * through the environment (see databases.ts): a temp root, an uncompressed PGlite seed (loads in
 * half the time of the build's gzipped one), with TEST_DATABASE_URL a migrated PostgreSQL template
 * that each test database copies, and, unless TEST_S3_ENDPOINT names one, a MinIO server that each
 * test server gets a bucket of.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const root = await mkdtemp(join(tmpdir(), "methodic-tests-"));
  process.env.TEST_TMP_ROOT = root;

  process.env.TEST_PGLITE_SEED = await rawSeedFile(root);

  const template = process.env.TEST_DATABASE_URL ? await createTemplateDatabase() : undefined;
  if (template) process.env.TEST_DATABASE_TEMPLATE = template.name;

  const minio = !process.env.TEST_S3_ENDPOINT && s3Availability().available ? await startMinio() : undefined;
  if (minio) {
    process.env.TEST_S3_ENDPOINT = minio.endpoint;
    process.env.TEST_S3_REGION = minio.region;
    process.env.TEST_S3_ACCESS_KEY_ID = minio.accessKeyId;
    process.env.TEST_S3_SECRET_ACCESS_KEY = minio.secretAccessKey;
  }

  return async () => {
    await minio?.stop();
    await template?.dropAll();
    await rm(root, { recursive: true, force: true });
  };
}

/** The build's seed (found from src/ and from dist/ alike). */
const buildSeed = fileURLToPath(new URL("../../dist/pglite-seed.tar.gz", import.meta.url));

/**
 * The build's seed, uncompressed (opening it migrates whatever it lacks), kept in the system's temp
 * dir under the build seed's hash, so that every package's suite and every later run reuse it;
 * without a build, one made afresh for this run.
 */
async function rawSeedFile(root: string): Promise<string> {
  if (!existsSync(buildSeed)) {
    const path = join(root, "pglite-seed.tar");
    await writeFile(path, Buffer.from(await (await makePgliteSeed("none")).arrayBuffer()));
    return path;
  }
  const built = await readFile(buildSeed);
  const path = join(
    tmpdir(),
    `methodic-pglite-seed-${createHash("sha256").update(built).digest("hex").slice(0, 16)}.tar`,
  );
  if (existsSync(path)) return path;
  const client = await PGlite.create({ loadDataDir: new Blob([built]) });
  try {
    // Written whole under another name first: suites starting together never read half a file.
    const partial = `${path}.${process.pid}.partial`;
    await writeFile(partial, Buffer.from(await (await client.dumpDataDir("none")).arrayBuffer()));
    await rename(partial, path);
  } finally {
    await client.close();
  }
  return path;
}
