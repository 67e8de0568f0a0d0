import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../cold-start/start.js";

export const ADMIN_TOKEN = "bench-queries-admin-token-0123456789";

/** apps/server/dist/server.js: the production entry, as `pnpm start` runs it (plain node, no loader). */
export const serverEntry = join(dirname(createRequire(import.meta.url).resolve("@methodic/server")), "server.js");

export interface RunningServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * The real server in a process of its own, on the given configuration (DATABASE_URL, or the data dir of
 * an embedded PGlite), with a known admin token; answers once /readyz says 200.
 */
export async function startServer(env: Record<string, string>): Promise<RunningServer> {
  const port = await freePort();
  const child = spawn(process.execPath, [serverEntry], {
    env: {
      ...process.env,
      LOG_LEVEL: "warn",
      METHODIC_ADMIN_TOKEN: ADMIN_TOKEN,
      ...env,
      PORT: String(port),
      HOST: "127.0.0.1",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = performance.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}) while starting`);
    if (performance.now() > deadline) {
      await stop(child);
      throw new Error("the server did not get ready within 120 s");
    }
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) break;
    } catch {}
    await sleep(50);
  }
  return { url, pid: child.pid!, stop: () => stop(child) };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  await once(child, "exit");
  clearTimeout(timer);
}

/** A token of the given scope, made through the API with the admin token. */
export async function createToken(url: string, scope: "read" | "write"): Promise<string> {
  const response = await fetch(`${url}/v1/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ name: `bench-queries ${scope}`, scope }),
  });
  if (response.status !== 201 && response.status !== 200) {
    throw new Error(`POST /v1/tokens: ${response.status} ${await response.text()}`);
  }
  return ((await response.json()) as { token: string }).token;
}
