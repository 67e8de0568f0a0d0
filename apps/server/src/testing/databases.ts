import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import pg from "pg";
import { type DatabaseTarget, makePgliteSeed, migratePostgres, pgliteSeedPath } from "../db/client.js";

export type DatabaseDriver = "pglite" | "postgres";

/** A database of a test's own: what to open it with, and how to throw it away. */
export interface TestDatabase {
  target: DatabaseTarget;
  /** The PostgreSQL URL, for tests that reach past the API. */
  url: string | undefined;
  drop(): Promise<void>;
}

/**
 * Test databases are found through the environment, so that a vitest run, a benchmark and CI start
 * them the same way: TEST_DATABASE_URL names a PostgreSQL server (any database on it; tests create
 * and drop their own), TEST_DATABASE_TEMPLATE a migrated database on it to copy, and
 * TEST_PGLITE_SEED a dumped, migrated PGlite database to start from (see globalSetup).
 */
export function postgresAdminUrl(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.TEST_DATABASE_URL;
  if (!url) throw new Error("TEST_DATABASE_URL is not set: PostgreSQL tests need a server to create databases on");
  return url;
}

export function databaseUrl(name: string, base = postgresAdminUrl()): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

async function onServer(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresAdminUrl() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const name = (prefix: string) => `${prefix}_${randomBytes(5).toString("hex")}`;

/**
 * A new PostgreSQL database: a copy of the migrated template when there is one (a file's worth of
 * milliseconds), else empty (the server migrates it when it opens it).
 */
export async function createDatabase(
  options: { empty?: boolean; prefix?: string } = {},
): Promise<TestDatabase & { url: string }> {
  const template = options.empty ? undefined : process.env.TEST_DATABASE_TEMPLATE;
  // Copies are named after their template, so that the run's teardown finds every one.
  const database = name(template ?? options.prefix ?? "methodic_test");
  await onServer(`create database "${database}"${template ? ` template "${template}"` : ""}`);
  const url = databaseUrl(database);
  return {
    target: { driver: "postgres", url },
    url,
    drop: () => onServer(`drop database if exists "${database}" with (force)`),
  };
}

/** A migrated template database for a whole test run, and how to drop it with every copy made of it. */
export async function createTemplateDatabase(): Promise<{ name: string; dropAll(): Promise<void> }> {
  const template = name("methodic_test");
  await onServer(`create database "${template}"`);
  const pool = new pg.Pool({ connectionString: databaseUrl(template) });
  try {
    await migratePostgres(pool);
  } finally {
    await pool.end();
  }
  return {
    name: template,
    async dropAll() {
      const client = new pg.Client({ connectionString: postgresAdminUrl() });
      await client.connect();
      try {
        const { rows } = await client.query<{ datname: string }>(
          "select datname from pg_database where datname like $1",
          [`${template}%`],
        );
        for (const { datname } of rows) await client.query(`drop database if exists "${datname}" with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

let seed: Promise<Blob> | undefined;

/**
 * What an in-memory PGlite starts from: the run's seed (TEST_PGLITE_SEED), else the build's, else
 * one made here once (initdb and the migrations: seconds, which is why the others exist).
 */
function pgliteSeed(): Promise<Blob> {
  seed ??= (async () => {
    const path = process.env.TEST_PGLITE_SEED ?? (existsSync(pgliteSeedPath) ? pgliteSeedPath : undefined);
    return path ? new Blob([await readFile(path)]) : makePgliteSeed();
  })();
  return seed;
}

/**
 * A test database lives in memory for a file's worth of tests: no crash can take it, so it need not
 * write a page twice or wait for its log (a quarter of the CPU time of a write, measured).
 */
const THROWAWAY = ["synchronous_commit=off", "full_page_writes=off", "wal_level=minimal", "max_wal_senders=0"];

/** A fresh, migrated database of the given driver. */
export async function testDatabase(driver: DatabaseDriver): Promise<TestDatabase> {
  if (driver === "postgres") return createDatabase();
  return {
    target: { driver: "pglite", dataDir: null, from: await pgliteSeed(), settings: THROWAWAY },
    url: undefined,
    drop: async () => {},
  };
}
