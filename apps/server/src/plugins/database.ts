import { resolve } from "node:path";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Config } from "../config.js";
import { type Database, type DatabaseTarget, type Db, openDatabase } from "../db/client.js";
import { lockDataDir } from "../lib/data-dir-lock.js";

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
  const target = opts.database ?? databaseTarget(opts.config);
  // The embedded database must never be opened by two processes at once.
  const release =
    target.driver === "pglite" && target.dataDir !== null
      ? await lockDataDir(opts.config.dataDir, {
          onWait: (message) => app.log.warn(message),
          onLost: (err) => {
            app.log.fatal({ err }, "lost the data dir lock; stopping so that the database is not corrupted");
            process.exit(1);
          },
        })
      : undefined;
  let database: Database;
  try {
    database = await openDatabase(target, app.log);
  } catch (err) {
    await release?.();
    throw err;
  }
  app.decorate("database", database);
  app.decorate("db", database.db);
  app.addHook("onClose", async () => {
    await database.close();
    await release?.();
  });
});
