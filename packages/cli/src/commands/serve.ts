import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { Chronicle, readCredentialsFile, saveCredentials } from "@methodic/sdk";
import type { Command } from "commander";
import { Failure } from "../errors.js";

export function registerServe(program: Command): void {
  program
    .command("serve")
    .summary("run Chronicle (the embedded default unless configured otherwise)")
    .description(
      "run Chronicle: on the embedded default (PGlite and the local disk in --data-dir) unless the " +
        "environment names PostgreSQL (DATABASE_URL) or S3 (S3_BUCKET); writes your credentials file " +
        "with a write token",
    )
    .option("--port <port>", "the port to listen on (PORT, else 8080)")
    .option("--host <host>", "the address to listen on (HOST, else 127.0.0.1)")
    .option("--data-dir <dir>", "the data directory (METHODIC_DATA_DIR, else ./.methodic)")
    .action(async (options: { port?: string; host?: string; dataDir?: string }) => {
      const env = {
        LOG_LEVEL: "warn", // the lines below say what matters; LOG_LEVEL=info shows every request
        ...process.env,
        ...(options.port !== undefined && { PORT: options.port }),
        ...(options.host !== undefined && { HOST: options.host }),
        ...(options.dataDir !== undefined && { METHODIC_DATA_DIR: options.dataDir }),
      };
      // Loaded here only: no other command needs the server (or its database drivers) in memory.
      const { serve, startupMessage } = await import("@methodic/server");
      const serving = await serve(env).catch((err: unknown) => {
        const message = startupMessage(err);
        throw message ? new Failure(message) : err;
      });
      const { config, url } = serving;
      const embedded = config.databaseUrl === undefined;
      const say = (line: string) => process.stderr.write(`${line}\n`);
      say(`Chronicle is serving at ${url} (API docs at ${url}/docs)`);
      say(
        `  database: ${embedded ? `PGlite in ${resolve(config.dataDir)}` : "PostgreSQL"}; ` +
          `storage: ${config.s3 ? `S3 bucket ${config.s3.bucket}` : `the local disk in ${resolve(config.dataDir)}`}`,
      );

      const adminPath = join(resolve(config.dataDir), "admin-token");
      const admin = config.adminToken ?? (embedded ? (await readFile(adminPath, "utf8")).trim() : undefined);
      if (config.adminToken === undefined && embedded) say(`  admin token: ${adminPath}`);
      if (admin) {
        const { path, created } = await credentialsFor(url, admin);
        say(
          `  credentials: ${path} (${created ? "a new" : "the existing"} write token, for the CLI, SDK and MCP server)`,
        );
      } else {
        say("  no admin token (METHODIC_ADMIN_TOKEN) is set, so no credentials were written");
      }
      say("Press Ctrl-C to stop.");
    });
}

/**
 * The credentials file names this server with a write token: the one already there if it still
 * works here, else a new one. The admin token is never written there.
 */
async function credentialsFor(url: string, adminToken: string): Promise<{ path: string; created: boolean }> {
  const saved = readCredentialsFile();
  if (saved.url === url && saved.token && saved.token !== adminToken) {
    const works = await new Chronicle({ baseUrl: url, token: saved.token })
      .listExperiments()
      .page({ limit: 1 })
      .then(
        () => true,
        () => false,
      );
    if (works) return { path: await saveCredentials({ url, token: saved.token }), created: false };
  }
  const admin = new Chronicle({ baseUrl: url, token: adminToken });
  const { token } = await admin.createToken({ name: `methodic serve on ${hostname()}`, scope: "write" });
  return { path: await saveCredentials({ url, token }), created: true };
}
