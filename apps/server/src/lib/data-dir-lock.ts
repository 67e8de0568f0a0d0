import fs from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import lockfile from "proper-lockfile";
import { makeOwnerOnlyDir } from "./owner-only.js";

export class DataDirLockedError extends Error {
  override name = "DataDirLockedError";
}

// The holder refreshes the lock every UPDATE_MS; a lock untouched for STALE_MS was left by a process
// that died, and may be taken over.
const STALE_MS = 10_000;
const UPDATE_MS = 2_000;

interface Holder {
  pid: number;
  host: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes the data dir for this process, so that a second server never opens the same embedded
 * database. A live holder on this host makes us refuse at once; any other holder is alive as long as
 * it keeps refreshing the lock, and one that died leaves a lock that goes stale within STALE_MS,
 * which we wait out. Resolves to the release function.
 */
export async function lockDataDir(
  dataDir: string,
  events: { onWait: (message: string) => void; onLost: (err: Error) => void },
): Promise<() => Promise<void>> {
  const dir = resolve(dataDir);
  await makeOwnerOnlyDir(dir);
  const holderPath = join(dir, "server.pid");
  const options = {
    lockfilePath: join(dir, "server.lock"),
    stale: STALE_MS,
    update: UPDATE_MS,
    realpath: false,
    onCompromised: events.onLost,
    // The lock is a directory: for its owner only, like everything in the data dir.
    fs: {
      ...fs,
      mkdir: (path: string, callback: (err: NodeJS.ErrnoException | null) => void) => fs.mkdir(path, 0o700, callback),
    },
  };
  const refuse = (holder: Holder | null) =>
    new DataDirLockedError(
      `The data dir ${dir} is in use by another Chronicle server${
        holder ? ` (pid ${holder.pid} on ${holder.host})` : ""
      }; stop it first, or set METHODIC_DATA_DIR to another directory.`,
    );

  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(dir, options);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ELOCKED") throw err;
    const holder = await readHolder(holderPath);
    // Only a live process on this host is known to hold it. Another host's holder (a shared volume,
    // or a container recreated under a new hostname), or our own pid left by an earlier life of this
    // container (always pid 1), is judged by the lock's staleness alone.
    const heldHere = holder && holder.host === hostname() && holder.pid !== process.pid;
    if (heldHere && isAlive(holder.pid)) throw refuse(holder);
    events.onWait(
      `The data dir ${dir} is locked by a server that may no longer be running${holder ? ` (pid ${holder.pid} on ${holder.host})` : ""}; ` +
        `waiting up to ${STALE_MS / 1000} s for its lock to go stale.`,
    );
    try {
      const waits = Math.ceil(STALE_MS / 1000) + 2;
      release = await lockfile.lock(dir, { ...options, retries: { retries: waits, factor: 1, minTimeout: 1000 } });
    } catch (retryErr) {
      if ((retryErr as NodeJS.ErrnoException).code === "ELOCKED") throw refuse(holder);
      throw retryErr;
    }
  }
  await writeFile(holderPath, JSON.stringify({ pid: process.pid, host: hostname() } satisfies Holder), { mode: 0o600 });
  return async () => {
    await rm(holderPath, { force: true });
    await release();
  };
}

async function readHolder(path: string): Promise<Holder | null> {
  try {
    const holder = JSON.parse(await readFile(path, "utf8")) as Partial<Holder>;
    return typeof holder.pid === "number" && typeof holder.host === "string"
      ? { pid: holder.pid, host: holder.host }
      : null;
  } catch {
    return null;
  }
}
