import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** How a server is started: `pnpm start` at the repository root, or its last step, node on the built entry. */
export type Launcher = "pnpm start" | "node server.js";

export interface StartOptions {
  launcher: Launcher;
  /** The repository root (where `pnpm start` runs). */
  root: string;
  /** The built server entry, for "node server.js". */
  entry: string;
  /** Server configuration: METHODIC_DATA_DIR, DATABASE_URL... (PORT is chosen here). */
  env: Record<string, string>;
  /** Poll interval of /readyz. */
  pollMs: number;
  timeoutMs: number;
}

export interface Start {
  /** From spawn to the first 200 of /readyz. */
  readyMs: number;
  /** From spawn to the server's "serving" log line (its pino timestamp): when it listened. */
  listeningMs: number | null;
  /** `pnpm start` only: did turbo find the server's build in its cache (no tsc run)? */
  turboCached: boolean | null;
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  await once(server, "close");
  if (typeof address !== "object" || address === null) throw new Error("no TCP port");
  return address.port;
}

/**
 * Starts a server, polls its /readyz until it answers 200, then stops it (SIGTERM to its whole process
 * group: pnpm, the shell, turbo and node) and waits until every process of the group is gone, so that
 * the data dir lock is free for the next start.
 */
export async function timeStart(options: StartOptions): Promise<Start> {
  const port = await freePort();
  const env = { ...process.env, ...options.env, PORT: String(port), HOST: "127.0.0.1" };
  const [command, args] = options.launcher === "pnpm start" ? ["pnpm", ["start"]] : [process.execPath, [options.entry]];
  const url = `http://127.0.0.1:${port}/readyz`;

  const spawnedAt = Date.now();
  const t0 = performance.now();
  const child = spawn(command, args, { cwd: options.root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const output = collect(child);
  try {
    let readyMs: number | undefined;
    while (readyMs === undefined) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `${options.launcher} exited (${child.exitCode ?? child.signalCode}) before /readyz answered:\n${output.text()}`,
        );
      }
      if (performance.now() - t0 > options.timeoutMs) {
        throw new Error(`${options.launcher}: /readyz did not answer 200 within ${options.timeoutMs / 1000} s`);
      }
      if ((await status(url)) === 200) readyMs = performance.now() - t0;
      else await sleep(options.pollMs);
    }
    const text = output.text();
    const served = servingTime(text);
    const cached = /Cached:\s+(\d+) cached, (\d+) total/.exec(text);
    return {
      readyMs,
      listeningMs: served === null ? null : served - spawnedAt,
      turboCached: options.launcher === "pnpm start" ? (cached ? cached[1] === cached[2] : null) : null,
    };
  } finally {
    await stopGroup(child);
  }
}

/** The HTTP status of a GET, or 0 when nothing answers yet. */
async function status(url: string): Promise<number> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

function collect(child: ChildProcess): { text(): string } {
  const chunks: string[] = [];
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => chunks.push(chunk));
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => chunks.push(chunk));
  return { text: () => chunks.join("") };
}

/** The pino timestamp (ms since the epoch) of the server's "Chronicle is serving" line, if logged. */
function servingTime(output: string): number | null {
  for (const line of output.split("\n")) {
    if (!line.includes("Chronicle is serving")) continue;
    try {
      const time = (JSON.parse(line) as { time?: unknown }).time;
      if (typeof time === "number") return time;
    } catch {}
  }
  return null;
}

async function stopGroup(child: ChildProcess): Promise<void> {
  const pgid = child.pid;
  if (pgid === undefined) return;
  const signal = (name: NodeJS.Signals | 0) => {
    try {
      process.kill(-pgid, name);
      return true;
    } catch {
      return false; // ESRCH: the group is gone
    }
  };
  signal("SIGTERM");
  const deadline = performance.now() + 20_000;
  while (signal(0)) {
    if (performance.now() > deadline) signal("SIGKILL");
    await sleep(20);
  }
}
