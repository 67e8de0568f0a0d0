import closeWithGrace from "close-with-grace";
import { buildApp } from "./app.js";
import { type Config, ConfigError, loadConfig, publicUrlOf } from "./config.js";
import { DataDirLockedError } from "./lib/data-dir-lock.js";

/** Errors that stop start-up with one line for a person to read, not a stack trace. */
function startupMessage(err: unknown): string | undefined {
  return err instanceof ConfigError || err instanceof DataDirLockedError ? err.message : undefined;
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(startupMessage(err) ?? err);
    process.exit(1);
  }

  const app = buildApp({ config });
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    const message = startupMessage(err);
    if (message) console.error(message);
    else app.log.fatal({ err }, "Chronicle failed to start");
    await app.close().catch(() => {});
    process.exit(1);
  }
  const address = app.server.address();
  const url = publicUrlOf(config, typeof address === "object" && address ? address.port : undefined);
  app.log.info(
    { url, database: app.database.driver, storage: app.storage.kind, dataDir: config.dataDir },
    `Chronicle is serving at ${url} (API docs at ${url}/docs)`,
  );

  // Stop accepting, let in-flight requests finish, close the database; a second signal forces exit.
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, "shutting down after an uncaught error");
    else app.log.info({ signal }, "shutting down");
    await app.close();
  });
}

await main();
