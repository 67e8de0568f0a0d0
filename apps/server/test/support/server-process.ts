import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach } from "vitest";

const serverDir = fileURLToPath(new URL("../..", import.meta.url));

export interface ServerProcess {
  child: ChildProcess;
  /** Sends a request with the admin token that the embedded server generated in its data dir. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Where it listens, once it does. */
  url: Promise<string>;
  exit: Promise<number | null>;
  stdout(): string;
  stderr(): string;
}

/** `server.ts` in a child process of its own, as `pnpm start` runs it. */
export function spawnServer(env: NodeJS.ProcessEnv & { METHODIC_DATA_DIR: string }): ServerProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "src/server.ts"], {
    cwd: serverDir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: "0", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr?.on("data", (chunk) => {
    err += chunk;
  });
  // "close" comes after the output is read to the end, unlike "exit".
  const exit = once(child, "close").then(([code]) => code as number | null);
  const url = new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (chunk) => {
      out += chunk;
      const match = /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
    exit.then((code) => reject(new Error(`server exited with ${code} before listening: ${err}${out}`)));
  });
  url.catch(() => {});
  const fetchAsAdmin = async (path: string, init: RequestInit = {}) => {
    const token = (await readFile(join(env.METHODIC_DATA_DIR, "admin-token"), "utf8")).trim();
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${token}`);
    if (typeof init.body === "string") headers.set("content-type", "application/json");
    return fetch(`${await url}${path}`, { ...init, headers });
  };
  return { child, url, exit, fetch: fetchAsAdmin, stdout: () => out, stderr: () => err };
}

export async function stop(server: ServerProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill(signal);
  return server.exit;
}

/**
 * Servers on the embedded default, each on a data dir of the test's; all are killed and their data
 * dirs removed after each test.
 */
export function embeddedServers() {
  const running: ServerProcess[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((server) => stop(server, "SIGKILL")));
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });
  return {
    start(dataDir: string, env: NodeJS.ProcessEnv = {}): ServerProcess {
      const server = spawnServer({ METHODIC_DATA_DIR: dataDir, ...env });
      running.push(server);
      return server;
    },
    async dataDir(): Promise<string> {
      const dir = await mkdtemp(join(tmpdir(), "methodic-embedded-"));
      dirs.push(dir);
      return dir;
    },
  };
}
