// The one way a benchmark starts the Chronicle server. The server always runs in a process of its own:
// the benchmarks measure it from outside (its RSS, its start, its answers), and no load may share its
// event loop.
import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { type DatabaseDriver, freePort, type StorageDriver, spawnServer } from "@methodic/server/testing";
import type { JsMemory } from "./child.js";
import { bundle, Child } from "./children.js";
import { startBenchMinio } from "./minio.js";
import type { S3Target } from "./s3.js";

/**
 * The harness's startServer in a child bundled to plain JavaScript (server-child.ts): a database and
 * a data dir of its own, both thrown away when it stops. On S3, the storage is a MinIO of its own
 * (lib/minio.ts), a third process, whose memory and CPU are not counted as the server's.
 */
export interface HarnessServerOptions {
  launch: "harness";
  database: DatabaseDriver;
  storage: StorageDriver;
  /**
   * METHODIC_PART_SIZE; the server's default (64 MiB) unless given. The SDK sends a part size of its
   * own in every create (its `partSize` option), which the server takes instead.
   */
  partSize?: number;
  /** More configuration, applied last (METHODIC_PUBLIC_URL, S3_PUBLIC_ENDPOINT, ...). */
  env?: Record<string, string>;
  /** Sample the server's JavaScript memory, for `stats()`; off, the server runs no sampling timer. */
  jsMemory?: boolean;
  /** A .cpuprofile file to write when the server stops. */
  profile?: string;
  /** For messages: "server" unless given. */
  name?: string;
}

export interface HarnessServer {
  url: string;
  /** The admin token (the API benchmark only makes its tokens with it). */
  token: string;
  /** Its PostgreSQL database; undefined on PGlite. */
  databaseUrl: string | undefined;
  pid: number;
  /** Its MinIO and the bucket the server stores in, on S3. */
  s3: (S3Target & { pid: number }) | undefined;
  /** JavaScript's memory peaks since the last call (with `jsMemory`), and the blob bytes it received. */
  stats(): Promise<ServerStats>;
  /** Stops it (dropping its database and data), then its MinIO. */
  stop(): Promise<void>;
}

/** The configuration of a server started from its built entry: its data dir at least. */
export type ServerEnv = Record<string, string> & { METHODIC_DATA_DIR: string };

/**
 * The built entry, apps/server/dist/server.js, as it is deployed: "node" starts it with node (the
 * harness's spawnServer), "pnpm start" as a person does, at the repository root (turbo's build check,
 * then node). Its configuration outlives it (a data dir, a DATABASE_URL), so that it can start again
 * on the same data. It is ready when GET /readyz answers 200.
 */
export interface EntryServerOptions {
  launch: "node" | "pnpm start";
  /** Its configuration; PORT and HOST are chosen here. */
  env: ServerEnv;
  /** Copy what it prints to stderr as it comes (else it is kept, for `output()` and errors). */
  echo?: boolean;
  /** Poll interval of /readyz; 50 ms unless given. */
  pollMs?: number;
  timeoutMs?: number;
}

export interface EntryServer {
  url: string;
  pid: number;
  /** Date.now() just before the spawn. */
  spawnedAt: number;
  /** From the spawn to the first 200 of /readyz. */
  readyMs: number;
  /** What it printed so far, stdout and stderr. */
  output(): string;
  /** SIGTERM (to the whole process group for pnpm start), then waits until every process is gone. */
  stop(): Promise<void>;
}

/** What the harness child is told, as JSON in argv[2]. */
export interface ServerChildOptions {
  database: DatabaseDriver;
  env: Record<string, string>;
  jsMemory: boolean;
  profile?: string;
}

/** What the harness child tells once it listens. */
export interface ServerReady {
  url: string;
  token: string;
  databaseUrl: string | null;
}

/** Its answer to "stats". */
export interface ServerStats {
  /** JavaScript's peaks since the last "stats"; null without `jsMemory`. */
  js: JsMemory | null;
  /** Bytes PUT to the server's own blob routes (the local driver); none on S3. */
  blobBytes: number;
}

export function launchServer(options: HarnessServerOptions): Promise<HarnessServer>;
export function launchServer(options: EntryServerOptions): Promise<EntryServer>;
export function launchServer(options: HarnessServerOptions | EntryServerOptions): Promise<HarnessServer | EntryServer> {
  return options.launch === "harness" ? launchHarness(options) : launchEntry(options);
}

/**
 * A check that the storage driver is the one meant: blobs on the local driver pass through the server,
 * on S3 never.
 */
export function checkBlobBytes(storage: StorageDriver, received: number, totalBytes: number): void {
  if (storage === "local" ? received < totalBytes : received > 0) {
    throw new Error(`the server received ${received} blob bytes itself on the ${storage} driver`);
  }
}

async function launchHarness(options: HarnessServerOptions): Promise<HarnessServer> {
  const [serverScript] = await bundle(import.meta.url, ["server-child.ts"]);
  const s3 = options.storage === "s3" ? await startBenchMinio() : undefined;
  try {
    const childOptions: ServerChildOptions = {
      database: options.database,
      env: {
        ...s3?.env,
        ...(options.partSize && { METHODIC_PART_SIZE: String(options.partSize) }),
        ...options.env,
      },
      jsMemory: options.jsMemory ?? false,
      ...(options.profile && { profile: options.profile }),
    };
    const server = await ready<ServerReady>(
      new Child(options.name ?? "server", serverScript!, [JSON.stringify(childOptions)]),
      120_000,
    );
    const { child } = server;
    return {
      url: server.message.url,
      token: server.message.token,
      databaseUrl: server.message.databaseUrl ?? undefined,
      pid: child.pid,
      s3: s3 && { ...s3.target, pid: s3.pid },
      stats: () => child.ask<ServerStats>("stats"),
      async stop() {
        await child.stop();
        await s3?.stop();
      },
    };
  } catch (err) {
    await s3?.stop();
    throw err;
  }
}

/** A child and its first message, which says it is ready; a child that fails to say so is stopped. */
async function ready<T>(child: Child, timeoutMs?: number): Promise<{ child: Child; message: T }> {
  try {
    return { child, message: await child.message<T>(timeoutMs) };
  } catch (err) {
    await child.stop();
    throw err;
  }
}

const REPOSITORY = fileURLToPath(new URL("../..", import.meta.url));

interface Spawned {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

async function launchEntry(options: EntryServerOptions): Promise<EntryServer> {
  const { pollMs = 50, timeoutMs = 120_000 } = options;
  const port = await freePort();
  const env = { ...options.env, PORT: String(port), HOST: "127.0.0.1" };
  const url = `http://127.0.0.1:${port}`;

  const spawnedAt = Date.now();
  const t0 = performance.now();
  const spawned = options.launch === "node" ? startNode(env) : startPnpm(env);
  const { child } = spawned;
  if (options.echo) {
    const echo = (chunk: Buffer) => process.stderr.write(chunk);
    child.stdout?.on("data", echo);
    child.stderr?.on("data", echo);
  }
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        const output = options.echo ? "" : `:\n${spawned.output()}`;
        throw new Error(
          `${options.launch} exited (${child.exitCode ?? child.signalCode}) before /readyz answered${output}`,
        );
      }
      if (performance.now() - t0 > timeoutMs) {
        throw new Error(`${options.launch}: /readyz did not answer 200 within ${timeoutMs / 1000} s`);
      }
      if ((await status(`${url}/readyz`)) === 200) {
        const readyMs = performance.now() - t0;
        return { url, pid: child.pid!, spawnedAt, readyMs, output: spawned.output, stop: spawned.stop };
      }
      await sleep(pollMs);
    }
  } catch (err) {
    await spawned.stop();
    throw err;
  }
}

function startNode(env: ServerEnv): Spawned {
  const server = spawnServer(env);
  return {
    child: server.child,
    output: server.output,
    async stop() {
      const timer = setTimeout(() => server.child.kill("SIGKILL"), 20_000);
      await server.stop("SIGTERM");
      clearTimeout(timer);
    },
  };
}

/**
 * `pnpm start` is a process group of its own: pnpm, a shell, turbo, then node. A SIGTERM to pnpm alone
 * would leave node running with the data dir locked, so the group is stopped as one; the harness's
 * spawnProcess keeps its children in our group, hence this spawn of its own.
 */
function startPnpm(env: ServerEnv): Spawned {
  const child = spawn("pnpm", ["start"], {
    cwd: REPOSITORY,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const chunks: string[] = [];
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => chunks.push(chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => chunks.push(chunk));
  return { child, output: () => chunks.join(""), stop: () => stopGroup(child) };
}

async function stopGroup(child: ChildProcess): Promise<void> {
  const group = child.pid;
  if (group === undefined) return;
  const signal = (name: NodeJS.Signals | 0) => {
    try {
      process.kill(-group, name);
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

/** The HTTP status of a GET, or 0 while nothing answers. */
async function status(url: string): Promise<number> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}
