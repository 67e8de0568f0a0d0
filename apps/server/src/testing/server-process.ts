import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type SpawnedProcess, spawnNode } from "./processes.js";

/** The built server, as `pnpm start` runs it (tests of the server process run its build). */
export const SERVER_ENTRY = fileURLToPath(new URL("../../dist/server.js", import.meta.url));

export interface ServerProcess extends SpawnedProcess {
  /** Where it listens, once it does. */
  url: Promise<string>;
  /** A request with the admin token the embedded server generated in its data dir. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

/**
 * The server in a child process of its own, on a port the system picks (PORT=0 unless given), with
 * only the environment given (and PATH and HOME).
 */
export function spawnServer(env: NodeJS.ProcessEnv & { METHODIC_DATA_DIR: string }): ServerProcess {
  const spawned = spawnNode(SERVER_ENTRY, [], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: "0", LOG_LEVEL: "info", ...env },
  });
  const url = spawned.waitFor(/"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/).then((m) => m[1] as string);
  url.catch(() => {});
  const fetchAsAdmin = async (path: string, init: RequestInit = {}) => {
    const token = (await readFile(join(env.METHODIC_DATA_DIR, "admin-token"), "utf8")).trim();
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${token}`);
    if (typeof init.body === "string") headers.set("content-type", "application/json");
    return fetch(`${await url}${path}`, { ...init, headers });
  };
  return Object.assign(spawned, { url, fetch: fetchAsAdmin });
}
