import { mkdtempSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { FastifyInstance, InjectOptions } from "fastify";
import { test as base, inject } from "vitest";
import { buildApp } from "../../src/app.js";
import { type Config, loadConfig } from "../../src/config.js";
import type { DatabaseTarget } from "../../src/db/client.js";
import { createDatabase } from "./postgres.js";

export const driver = process.env.TEST_DRIVER === "postgres" ? "postgres" : "pglite";

/** The bootstrap admin token of every test app. */
export const ADMIN_TOKEN = "test-admin-token-0123456789";
export const asAdmin = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** The storage driver under test: S3 in the `s3` project, else the local disk. */
export const storage = process.env.TEST_STORAGE === "s3" ? "s3" : "local";

/** Each test app gets a data dir of its own (local blobs, signing secret), removed after the run. */
export function testConfig(env: NodeJS.ProcessEnv = {}): Config {
  const dataDir = mkdtempSync(join(inject("tmpRoot"), "data-"));
  const s3 = storage === "s3" ? inject("s3") : undefined;
  return loadConfig({
    LOG_LEVEL: "silent",
    METHODIC_ADMIN_TOKEN: ADMIN_TOKEN,
    METHODIC_DATA_DIR: dataDir,
    ...(s3 && { S3_BUCKET: s3.bucket, S3_ENDPOINT: s3.endpoint, S3_REGION: s3.region, S3_FORCE_PATH_STYLE: "true" }),
    ...env,
  });
}

/** A fresh, migrated database of the driver under test, and how to throw it away. */
export async function testDatabase(): Promise<{ target: DatabaseTarget; drop: () => Promise<void> }> {
  if (driver === "pglite") {
    const from = new Blob([await readFile(inject("pgliteTemplate"))]);
    return { target: { driver: "pglite", dataDir: null, from }, drop: async () => {} };
  }
  const { url, drop } = await createDatabase(inject("templateDatabase"));
  return { target: { driver: "postgres", url }, drop };
}

/** An app on a fresh database, ready to take requests. */
export async function startApp(env: NodeJS.ProcessEnv = {}, database?: DatabaseTarget): Promise<FastifyInstance> {
  const app = buildApp({ config: testConfig(env), logger: false, ...(database && { database }) });
  await app.ready();
  return app;
}

export interface Api {
  app: FastifyInstance;
  /** `token` is sent as the bearer token: the admin token unless given; null sends none. */
  request<T = any>(
    options: InjectOptions & { token?: string | null },
  ): Promise<{ status: number; body: T; headers: Record<string, unknown> }>;
}

/** Requests to an app through inject, with the admin token unless told otherwise. */
export function apiFor(app: FastifyInstance): Api {
  return {
    app,
    request: async ({ token = ADMIN_TOKEN, ...options }) => {
      const headers = { ...(token !== null && { authorization: `Bearer ${token}` }), ...options.headers };
      const res = await app.inject({ ...options, headers });
      const text = res.body;
      return { status: res.statusCode, body: text ? JSON.parse(text) : undefined, headers: res.headers };
    },
  };
}

/** Each test file gets one app on its own database; tests in a file use distinct ids. */
export const test = base.extend<{ api: Api }>({
  api: [
    // biome-ignore lint/correctness/noEmptyPattern: vitest fixtures take their dependencies by destructuring
    async ({}, use) => {
      const { target, drop } = await testDatabase();
      const app = await startApp({}, target);
      await use(apiFor(app));
      await app.close();
      await drop();
    },
    { scope: "file" },
  ],
});

export { describe, expect } from "vitest";
