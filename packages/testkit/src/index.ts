import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import type { IncomingMessage, Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildApp, type DatabaseTarget, loadConfig } from "@methodic/server";
import pg from "pg";
import S3rver from "s3rver";

export const ADMIN_TOKEN = "testkit-admin-token-0123456789";

export type DatabaseDriver = "pglite" | "postgres";
export type StorageDriver = "local" | "s3";

export interface TestServerOptions {
  /** Else TEST_DRIVER, else PGlite. PostgreSQL needs TEST_DATABASE_URL. */
  database?: DatabaseDriver;
  /** Else TEST_STORAGE, else the local disk. S3 is an s3rver in this process. */
  storage?: StorageDriver;
  /** More server configuration (api.md's variables). */
  env?: Record<string, string>;
}

export interface TestServer {
  url: string;
  token: string;
  database: DatabaseDriver;
  storage: StorageDriver;
  /** File bytes PUT to storage (by Content-Length, whether or not the request completed). */
  received: { blobBytes: number };
  close(): Promise<void>;
}

/** The drivers this test process was asked for (a vitest project sets TEST_DRIVER and TEST_STORAGE). */
export function driversUnderTest(env: NodeJS.ProcessEnv = process.env): {
  database: DatabaseDriver;
  storage: StorageDriver;
} {
  return {
    database: env.TEST_DRIVER === "postgres" ? "postgres" : "pglite",
    storage: env.TEST_STORAGE === "s3" ? "s3" : "local",
  };
}

/**
 * A Chronicle server listening on 127.0.0.1 (a port of its own) on a database and a storage of its
 * own, both thrown away by `close`. Clients reach it over real HTTP, exactly as a trainer would.
 */
export async function startServer(options: TestServerOptions = {}): Promise<TestServer> {
  const drivers = { ...driversUnderTest(), ...definedOf(options) };
  const cleanups: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  const received = { blobBytes: 0 };
  const countPut = (method: string | undefined, length: string | undefined) => {
    if (method === "PUT") received.blobBytes += Number(length ?? 0);
  };

  try {
    const dataDir = await mkdtemp(join(tmpdir(), "methodic-testkit-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));

    const database = drivers.database === "postgres" ? await createDatabase() : undefined;
    if (database) cleanups.push(database.drop);

    const s3 = drivers.storage === "s3" ? await startS3(countPut) : undefined;
    if (s3) cleanups.push(s3.close);

    const config = loadConfig({
      PORT: "0",
      LOG_LEVEL: "silent",
      METHODIC_ADMIN_TOKEN: ADMIN_TOKEN,
      METHODIC_DATA_DIR: dataDir,
      ...(database && { DATABASE_URL: database.url }),
      ...(s3 && { S3_BUCKET: s3.bucket, S3_ENDPOINT: s3.endpoint, S3_FORCE_PATH_STYLE: "true" }),
      ...options.env,
    });
    const target: DatabaseTarget = database
      ? { driver: "postgres", url: database.url }
      : { driver: "pglite", dataDir: null };
    const app = buildApp({ config, database: target, logger: false });
    cleanups.push(() => app.close());
    app.addHook("onRequest", async (request) => {
      if (request.url.startsWith("/v1/blobs/")) countPut(request.method, request.headers["content-length"]);
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    const address = app.server.address();
    if (typeof address !== "object" || address === null) throw new Error("the server is not listening on TCP");
    return {
      url: `http://127.0.0.1:${address.port}`,
      token: ADMIN_TOKEN,
      ...drivers,
      received,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

function definedOf(options: TestServerOptions): Partial<{ database: DatabaseDriver; storage: StorageDriver }> {
  return {
    ...(options.database && { database: options.database }),
    ...(options.storage && { storage: options.storage }),
  };
}

/**
 * An empty database of its own on TEST_DATABASE_URL's server (the Chronicle server migrates it at
 * start), and how to drop it.
 */
export async function createDatabase(prefix = "methodic_testkit"): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = process.env.TEST_DATABASE_URL;
  if (!admin) throw new Error("TEST_DATABASE_URL is not set: PostgreSQL tests need a server to create databases on");
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  const run = async (sql: string) => {
    const client = new pg.Client({ connectionString: admin });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await run(`create database "${name}"`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run(`drop database if exists "${name}" with (force)`) };
}

/** An S3 protocol server (s3rver) in this process, with one bucket, counting the bytes PUT to it. */
async function startS3(countPut: (method: string | undefined, length: string | undefined) => void) {
  const directory = await mkdtemp(join(tmpdir(), "methodic-testkit-s3-"));
  const bucket = "methodic-testkit";
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const { port } = await server.run();
  // s3rver is a Koa app and keeps the node:http server it listens on here (its types do not say so).
  (server as unknown as { httpServer: Server }).httpServer.on("request", (request: IncomingMessage) =>
    countPut(request.method, request.headers["content-length"]),
  );
  // s3rver checks no signature; the SDK still signs, and wants credentials to sign with.
  process.env.AWS_ACCESS_KEY_ID ??= "S3RVER";
  process.env.AWS_SECRET_ACCESS_KEY ??= "S3RVER";
  return {
    bucket,
    endpoint: `http://127.0.0.1:${port}`,
    close: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
