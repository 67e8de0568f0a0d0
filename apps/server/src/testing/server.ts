import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { buildApp, type LoggerOverrides } from "../app.js";
import { type Config, type HttpLimits, loadConfig } from "../config.js";
import type { DatabaseTarget } from "../db/client.js";
import { type DatabaseDriver, type TestDatabase, testDatabase } from "./databases.js";
import { type StorageDriver, startS3, type TestS3 } from "./storage.js";

/** The bootstrap admin token of every test server. */
export const ADMIN_TOKEN = "testkit-admin-token-0123456789";

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

export interface TestServerOptions {
  /** Else TEST_DRIVER, else PGlite. PostgreSQL needs TEST_DATABASE_URL. */
  database?: DatabaseDriver;
  /** Else TEST_STORAGE, else the local disk. */
  storage?: StorageDriver;
  /** More server configuration (docs/api.md's variables). */
  env?: Record<string, string>;
  /** Where the data dir goes (TEST_TMP_ROOT, else the system's temp dir). */
  tmpRoot?: string;
  logger?: LoggerOverrides;
  /** Connection limits beyond what `env` can set (short timeouts, so tests need not wait them out). */
  http?: Partial<HttpLimits>;
  /** A database the caller owns (several apps on one database), instead of a fresh one. */
  databaseTarget?: DatabaseTarget;
  /** An S3 server the caller owns, instead of a fresh one (with storage "s3"). */
  s3?: TestS3;
  /** Called before the app is ready, for a test's own routes or hooks. */
  prepare?: (app: FastifyInstance) => void;
}

/** A Chronicle app on a database and a storage of its own, all thrown away by `close`. */
export interface TestApp {
  app: FastifyInstance;
  config: Config;
  database: DatabaseDriver;
  storage: StorageDriver;
  /** The PostgreSQL URL of its database. */
  databaseUrl: string | undefined;
  /** Its S3 server, with storage "s3". */
  s3: TestS3 | undefined;
  /** File bytes PUT to its storage (by Content-Length, whether or not the request completed). */
  received: { blobBytes: number };
  close(): Promise<void>;
}

export interface TestServer extends TestApp {
  /** Where it listens: 127.0.0.1 on a port the system picked. */
  url: string;
  token: string;
}

/** Builds a test app (ready for `inject`, not listening). */
export async function startApp(options: TestServerOptions = {}): Promise<TestApp> {
  const drivers = { ...driversUnderTest(), ...definedOf(options) };
  if (options.databaseTarget) drivers.database = options.databaseTarget.driver;
  const cleanups: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };
  try {
    const dataDir = await mkdtemp(join(options.tmpRoot ?? process.env.TEST_TMP_ROOT ?? tmpdir(), "methodic-data-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const database = options.databaseTarget
      ? { target: options.databaseTarget, url: urlOf(options.databaseTarget) }
      : await testDatabase(drivers.database);
    if (!options.databaseTarget) cleanups.push((database as TestDatabase).drop);
    const s3 = drivers.storage === "s3" ? (options.s3 ?? (await startS3())) : undefined;
    if (s3 && !options.s3) cleanups.push(s3.close);

    const config = loadConfig({
      PORT: "0",
      LOG_LEVEL: "silent",
      METHODIC_ADMIN_TOKEN: ADMIN_TOKEN,
      METHODIC_DATA_DIR: dataDir,
      ...s3?.env,
      ...options.env,
    });
    config.http = { ...config.http, ...options.http };
    const app = buildApp({ config, database: database.target, logger: options.logger ?? false });
    cleanups.push(() => app.close());
    const received = s3?.received ?? { blobBytes: 0 };
    if (!s3) {
      app.addHook("onRequest", async (request) => {
        if (request.method === "PUT" && request.url.startsWith("/v1/blobs/")) {
          received.blobBytes += Number(request.headers["content-length"] ?? 0);
        }
      });
    }
    options.prepare?.(app);
    await app.ready();
    return { app, config, ...drivers, databaseUrl: database.url, s3, received, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * A Chronicle server listening on 127.0.0.1 (a port of its own) on a database and a storage of its
 * own. Clients reach it over real HTTP, exactly as a trainer would.
 */
export async function startServer(options: TestServerOptions = {}): Promise<TestServer> {
  const started = await startApp(options);
  try {
    await started.app.listen({ port: 0, host: "127.0.0.1" });
  } catch (err) {
    await started.close();
    throw err;
  }
  const address = started.app.server.address();
  if (typeof address !== "object" || address === null) throw new Error("the server is not listening on TCP");
  return { ...started, url: `http://127.0.0.1:${address.port}`, token: ADMIN_TOKEN };
}

const urlOf = (target: DatabaseTarget) => (target.driver === "postgres" ? target.url : undefined);

function definedOf(options: TestServerOptions): Partial<{ database: DatabaseDriver; storage: StorageDriver }> {
  return {
    ...(options.database && { database: options.database }),
    ...(options.storage && { storage: options.storage }),
  };
}
