import { existsSync } from "node:fs";
import { chown, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type S3Endpoint, startMinio } from "./minio.js";
import { freePort } from "./ports.js";
import { type SpawnedProcess, spawnProcess } from "./processes.js";

/**
 * Servers of a test's own that it may take away and bring back for real (a fault-injection test):
 * nothing shared with the other tests of the run is ever stopped.
 */

/** A MinIO of one test's own, on a fixed port and data dir, so that it comes back as it was. */
export interface RestartableMinio extends S3Endpoint {
  /** Kills it (SIGKILL: gone at once, as in a crash); what it stored stays on its disk. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data, and waits until it is live. */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  close(): Promise<void>;
}

export async function startRestartableMinio(): Promise<RestartableMinio> {
  const place = { port: await freePort(), dataDir: await mkdtemp(join(tmpdir(), "methodic-minio-")) };
  let minio = await startMinio(undefined, place);
  const { endpoint, region, accessKeyId, secretAccessKey } = minio;
  return {
    endpoint,
    region,
    accessKeyId,
    secretAccessKey,
    stop: async () => {
      await minio.process.stop("SIGKILL");
    },
    start: async () => {
      minio = await startMinio(undefined, place);
    },
    close: async () => {
      await minio.stop();
      await rm(place.dataDir, { recursive: true, force: true });
    },
  };
}

/** A PostgreSQL cluster of one test's own, which it may stop and start as often as it likes. */
export interface PostgresCluster {
  /** The superuser's URL (trusted on loopback), on the cluster's own port. */
  url: string;
  /**
   * Stops the server. "fast" ends every session (57P01) and checkpoints, as a restart by an operator
   * does; "immediate" is a crash: every session dropped, recovery at the next start.
   */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts it again on the same port and data, and waits until it accepts connections. */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  close(): Promise<void>;
  /** What the server printed since it last started (its log). */
  output(): string;
}

/**
 * PostgreSQL's programs: TEST_POSTGRES_BIN, else the newest Debian install (/usr/lib/postgresql/N/bin,
 * which CI's .ci/postgres installs).
 */
async function postgresBinaries(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.TEST_POSTGRES_BIN) return env.TEST_POSTGRES_BIN;
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? (await readdir(root)).filter((v) => /^\d+$/.test(v)) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  const found = versions.map((v) => join(root, v, "bin")).find((bin) => existsSync(join(bin, "initdb")));
  if (!found) {
    throw new Error("A private PostgreSQL cluster needs initdb and postgres: set TEST_POSTGRES_BIN to their directory");
  }
  return found;
}

/** PostgreSQL refuses to run as root: run by root, its programs run as the `postgres` user. */
async function postgresUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const entry = (await readFile("/etc/passwd", "utf8")).split("\n").find((line) => line.startsWith("postgres:"));
  const [, , uid, gid] = entry?.split(":") ?? [];
  if (!uid || !gid) throw new Error("Running as root, a private PostgreSQL cluster needs a `postgres` user");
  return { uid: Number(uid), gid: Number(gid) };
}

/** A fresh cluster (initdb) on a free port of loopback, started. Seconds, most of them initdb's. */
export async function startPostgresCluster(): Promise<PostgresCluster> {
  const bin = await postgresBinaries();
  const user = await postgresUser();
  // In the system's temp dir rather than the run's, which the `postgres` user cannot enter.
  const dir = await mkdtemp(join(tmpdir(), "methodic-postgres-"));
  if (user) await chown(dir, user.uid, user.gid);
  const data = join(dir, "data");
  const options = { env: { PATH: process.env.PATH, LC_ALL: "C" }, ...user };
  const initdb = spawnProcess(
    join(bin, "initdb"),
    ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"],
    options,
  );
  const made = await initdb.exit;
  if (made.code !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${made.signal ?? made.code}):\n${initdb.output()}`);
  }
  const port = await freePort();
  let server: SpawnedProcess | undefined;
  const start = async () => {
    server = spawnProcess(
      join(bin, "postgres"),
      // A throwaway cluster: its data need not survive the machine, only the server.
      ["-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
      options,
    );
    await server.waitFor(/database system is ready to accept connections/);
  };
  const stop = async (mode: "fast" | "immediate" = "fast") => {
    await server?.stop(mode === "fast" ? "SIGINT" : "SIGQUIT");
  };
  try {
    await start();
  } catch (err) {
    await stop("immediate");
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop,
    start,
    close: async () => {
      await stop("immediate");
      await rm(dir, { recursive: true, force: true });
    },
    output: () => server?.output() ?? "",
  };
}
