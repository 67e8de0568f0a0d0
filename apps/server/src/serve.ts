import closeWithGrace from "close-with-grace";
import type { FastifyInstance } from "fastify";
import { buildApp } from "./app.js";
import { type Config, ConfigError, loadConfig, publicUrlOf } from "./config.js";
import { DataDirLockedError } from "./lib/data-dir-lock.js";

export interface Serving {
  app: FastifyInstance;
  config: Config;
  /** Where clients reach it. */
  url: string;
}

/** Errors that stop start-up with one line for a person to read, not a stack trace. */
export function startupMessage(err: unknown): string | undefined {
  return err instanceof ConfigError || err instanceof DataDirLockedError ? err.message : undefined;
}

/**
 * Configures Chronicle from the environment, starts it listening, and shuts it down gracefully on
 * SIGINT or SIGTERM (in-flight requests finish, the database closes; a second signal forces exit).
 * Rejects when it cannot start; `startupMessage` tells the errors that need no stack trace.
 */
export async function serve(env: NodeJS.ProcessEnv = process.env): Promise<Serving> {
  const config = loadConfig(env);
  // Whatever this process creates (the local blobs, the data dir's other files) is its owner's only.
  process.umask(0o077);
  const app = buildApp({ config });
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await app.close().catch(() => {});
    throw err;
  }
  const address = app.server.address();
  const url = publicUrlOf(config, typeof address === "object" && address ? address.port : undefined);
  app.log.info(
    { url, database: app.database.driver, storage: app.storage.kind, dataDir: config.dataDir },
    `Chronicle is serving at ${url} (API docs at ${url}/docs)`,
  );

  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, "shutting down after an uncaught error");
    else app.log.info({ signal }, "shutting down");
    await app.close();
  });
  return { app, config, url };
}
