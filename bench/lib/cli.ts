import { rmSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import type { DatabaseDriver, StorageDriver } from "@methodic/server/testing";

/** A bad option: `runMain` prints the benchmark's usage and exits 2. */
export class UsageError extends Error {}

/** The arguments after the script's name; `pnpm run <bench> -- --size 1` passes the "--" on. */
export function argsOf(argv: string[] = process.argv.slice(2)): string[] {
  return argv[0] === "--" ? argv.slice(1) : argv;
}

/** A whole-number option of at least `min`. */
export function integer(name: string, text: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(
      min === 1
        ? `--${name} must be a positive integer, not ${text}`
        : `--${name} must be an integer >= ${min}, not ${text}`,
    );
  }
  return n;
}

/** `--storage local|s3|both`. */
export function storagesOf(text: string): StorageDriver[] {
  if (text === "both") return ["local", "s3"];
  if (text !== "local" && text !== "s3") throw new UsageError(`--storage must be local, s3 or both, not ${text}`);
  return [text];
}

/**
 * `--database pglite|postgres` (and `both` where `both` is allowed). Unset, it is `whenPostgres` if
 * TEST_DATABASE_URL names a server (testkit creates and drops a database of its own there), else PGlite.
 */
export function databasesOf(
  text: string | undefined,
  { both = false, whenPostgres = "postgres" }: { both?: boolean; whenPostgres?: "postgres" | "both" } = {},
): DatabaseDriver[] {
  const value = text ?? (process.env.TEST_DATABASE_URL ? whenPostgres : "pglite");
  const databases: DatabaseDriver[] | undefined =
    value === "pglite" || value === "postgres"
      ? [value]
      : value === "both" && both
        ? ["postgres", "pglite"]
        : undefined;
  if (!databases)
    throw new UsageError(`--database must be pglite${both ? ", postgres or both" : " or postgres"}, not ${value}`);
  if (databases.includes("postgres") && !process.env.TEST_DATABASE_URL) {
    throw new UsageError("--database postgres needs TEST_DATABASE_URL (postgres://user@host:port/any-database)");
  }
  return databases;
}

/** Runs a benchmark: a UsageError prints the usage and exits 2, any other error its message and exits 1. */
export async function runMain(name: string, usage: string, main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (err) {
    console.error(`[${name}] ${err instanceof Error ? err.message : err}`);
    if (err instanceof UsageError) console.error(usage);
    process.exit(err instanceof UsageError ? 2 : 1);
  }
}

/** The machine a result was measured on, for the JSON document. */
export function machine(): {
  node: string;
  kernel: string;
  cpus: number;
  cpuModel: string | undefined;
  memoryMiB: number;
} {
  const cores = cpus();
  return {
    node: process.version,
    kernel: release(),
    cpus: cores.length,
    cpuModel: cores[0]?.model,
    memoryMiB: Math.round(totalmem() / 2 ** 20),
  };
}

/** The JSON document of a run: into `path` when `--json` named one, else to stdout after the table. */
export async function writeDocument(document: object, path: string | undefined, log: (line: string) => void) {
  const text = JSON.stringify(document, null, 2);
  if (path) {
    await writeFile(path, `${text}\n`);
    log(`wrote ${path}`);
  } else {
    console.log(`\n${text}`);
  }
}

/** A temporary directory for a run's files: removed at the end, on an error, and on Ctrl-C. */
export async function withWorkDir<T>(name: string, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), `methodic-bench-${name}-`));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  // Ctrl-C: the children clean up after themselves (they see it too); the files are ours to remove.
  const interrupted = () => {
    remove();
    process.exit(130);
  };
  process.once("SIGINT", interrupted);
  try {
    return await work(dir);
  } finally {
    process.off("SIGINT", interrupted);
    remove();
  }
}
