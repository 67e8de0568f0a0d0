import { resolve } from "node:path";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Config } from "../config.js";
import { type Database, type DatabaseTarget, type Db, openDatabase } from "../db/client.js";

declare module "fastify" {
  interface FastifyInstance {
    database: Database;
    db: Db;
  }
}

/** DATABASE_URL picks PostgreSQL; without it the embedded PGlite lives in the data dir. */
export function databaseTarget(config: Config): DatabaseTarget {
  return config.databaseUrl
    ? { driver: "postgres", url: config.databaseUrl }
    : { driver: "pglite", dataDir: resolve(config.dataDir, "pgdata") };
}

export interface DatabasePluginOptions {
  config: Config;
  database?: DatabaseTarget | undefined;
}

export const databasePlugin = fp(async (app: FastifyInstance, opts: DatabasePluginOptions) => {
  const database = await openDatabase(opts.database ?? databaseTarget(opts.config), app.log);
  app.decorate("database", database);
  app.decorate("db", database.db);
  app.addHook("onClose", () => database.close());
});
