import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { migrate as migratePg } from "drizzle-orm/node-postgres/migrator";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import pg from "pg";
import { ownerOnlyPgliteFs } from "../lib/owner-only.js";
import { pgliteWasmModule } from "../lib/pglite-wasm.js";
import * as schema from "./schema/index.js";

/** The drizzle handle both drivers share: queries are written once against it. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export type DatabaseTarget =
  | { driver: "postgres"; url: string }
  /**
   * `dataDir` null keeps the database in memory; `from` starts it as a copy of a dumped one;
   * `settings` are postgresql.conf lines (a throwaway database may trade durability for speed).
   */
  | { driver: "pglite"; dataDir: string | null; from?: Blob; settings?: string[] };

export interface Database {
  readonly db: Db;
  readonly driver: DatabaseTarget["driver"];
  /** Throws when the database cannot answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface Logger {
  warn(obj: object, msg: string): void;
}

const migrationsFolder = fileURLToPath(new URL("../../drizzle", import.meta.url));
const drizzleOptions = { schema, casing: "snake_case" } as const;

/** Any constant works; it only has to be the same for every instance of the server. */
const MIGRATION_LOCK_KEY = 4_217_020_611;

/** Opens the database and brings its schema up to date. */
export async function openDatabase(target: DatabaseTarget, log: Logger): Promise<Database> {
  return target.driver === "postgres" ? openPostgres(target.url, log) : openPglite(target);
}

async function openPostgres(url: string, log: Logger): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: url,
    application_name: "methodic",
    max: 20,
    // Fail fast (503) rather than queue requests while the database is unreachable.
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client that loses its connection is dropped from the pool; the next query reconnects.
  pool.on("error", (err) => log.warn({ err }, "idle database connection lost"));
  // One a request holds (inside a transaction) fails that request's queries, as a 503; without a
  // listener of its own, the client would also throw the error as an unhandled event, ending the process.
  pool.on("connect", (client) => client.on("error", () => {}));
  try {
    await migratePostgres(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }
  const db = drizzlePg(pool, drizzleOptions) as unknown as Db;
  return {
    db,
    driver: "postgres",
    ping: async () => {
      await pool.query("select 1");
    },
    close: () => pool.end(),
  };
}

/**
 * Several instances may start at once against one database: a session-level advisory lock lets one
 * of them migrate while the others wait, then find nothing left to do.
 */
export async function migratePostgres(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("select pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    try {
      await migratePg(drizzlePg(client, drizzleOptions), { migrationsFolder });
    } finally {
      await client.query("select pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

/** A dump of a freshly migrated PGlite database, made by the build (see build-seed.ts). */
export const pgliteSeedPath = fileURLToPath(new URL("../pglite-seed.tar.gz", import.meta.url));

/** An empty database with every migration applied, dumped: what a new data dir starts from. */
export async function makePgliteSeed(compression: "gzip" | "none" = "gzip"): Promise<Blob> {
  const client = await PGlite.create({ pgliteWasmModule: await pgliteWasmModule() });
  try {
    await migratePglite(drizzlePglite(client, drizzleOptions), { migrationsFolder });
    return await client.dumpDataDir(compression);
  } finally {
    await client.close();
  }
}

/**
 * What a new data dir starts from: the build's seed, which skips initdb and the migrations (some
 * seconds, most of a first start); without one (running from source), PGlite's initdb.
 */
async function seedFor(dataDir: string): Promise<Blob | undefined> {
  if (existsSync(join(dataDir, "PG_VERSION"))) return undefined;
  try {
    return new Blob([await readFile(pgliteSeedPath)]);
  } catch {
    return undefined;
  }
}

async function openPglite({
  dataDir,
  from,
  settings,
}: Extract<DatabaseTarget, { driver: "pglite" }>): Promise<Database> {
  const start = from ?? (dataDir === null ? undefined : await seedFor(dataDir));
  const client = await PGlite.create({
    pgliteWasmModule: await pgliteWasmModule(),
    // Its files are readable and writable by their owner only, like everything in the data dir.
    ...(dataDir !== null && { fs: await ownerOnlyPgliteFs(dataDir) }),
    ...(start && { loadDataDir: start }),
    ...(settings && { postgresqlconf: settings }),
  });
  try {
    const db = drizzlePglite(client, drizzleOptions);
    await migratePglite(db, { migrationsFolder });
    return {
      db: db as unknown as Db,
      driver: "pglite",
      ping: async () => {
        await db.execute(sql`select 1`);
      },
      close: () => client.close(),
    };
  } catch (err) {
    await client.close();
    throw err;
  }
}

const CONNECTION_ERRNOS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);
// SQLSTATEs for "the server went away or will not take us now".
const UNAVAILABLE_SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300"]);
const CONNECTION_MESSAGES = [
  "Connection terminated",
  "timeout exceeded when trying to connect",
  "Client has encountered a connection error",
  "Connection ended unexpectedly",
];

/** True when an error (or its cause: drizzle wraps driver errors) means the database is unreachable. */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") {
      if (CONNECTION_ERRNOS.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith("08")) return true;
    }
    if (CONNECTION_MESSAGES.some((m) => e instanceof Error && e.message.includes(m))) return true;
    if (e instanceof AggregateError && e.errors.some(isDatabaseUnavailable)) return true;
  }
  return false;
}

/** The SQLSTATE of a database error, looking through drizzle's wrapping. */
export function sqlState(err: unknown): string | undefined {
  for (let e = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}
