import { PGlite } from "@electric-sql/pglite";
import pg from "pg";

/** Just enough of a database connection to seed and explain: PostgreSQL (pg) or an embedded PGlite. */
export interface SqlConnection {
  query<T extends object>(sql: string): Promise<T[]>;
  close(): Promise<void>;
}

export async function connectPostgres(url: string): Promise<SqlConnection> {
  const client = new pg.Client({ connectionString: url, application_name: "bench-queries" });
  await client.connect();
  return {
    query: async <T extends object>(sql: string) => (await client.query(sql)).rows as T[],
    close: () => client.end(),
  };
}

/** The server's data dir must not be in use: PGlite allows one process at a time. */
export async function openPglite(dataDir: string): Promise<SqlConnection> {
  const db = await PGlite.create({ dataDir });
  return {
    query: async <T extends object>(sql: string) => (await db.query<T>(sql)).rows,
    close: () => db.close(),
  };
}
