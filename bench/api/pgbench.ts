// The PostgreSQL ceiling: pgbench running the heartbeat's own UPDATE (the SQL that db/queries/runs.ts's
// heartbeat() sends) on the server's database, one client per run, prepared, and every transaction
// logged so that its percentiles are exact.
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { spawnProcess } from "@methodic/server/testing";
import { percentile } from "../lib/stats.js";
import type { LoadResult } from "./load.js";

/** The heartbeat UPDATE for run :client_id (0 .. clients-1), as drizzle writes it, parameters inlined. */
function script(experiment: string, variation: string): string {
  const literal = (s: string) => `'${s.replaceAll("'", "''")}'`;
  return `update "runs" set "state" = 'running', "last_heartbeat_at" = now() where ("runs"."experiment_id" = ${literal(experiment)} and "runs"."variation" = ${literal(variation)} and "runs"."run" = :client_id and "runs"."state" in ('running', 'lost')) returning "state", "last_heartbeat_at";\n`;
}

export async function pgbench(
  databaseUrl: string,
  experiment: string,
  variation: string,
  clients: number,
  seconds: number,
  log: (line: string) => void,
): Promise<LoadResult> {
  const work = await mkdtemp(join(tmpdir(), "methodic-bench-pgbench-"));
  try {
    const file = join(work, "heartbeat.sql");
    await writeFile(file, script(experiment, variation));
    const url = new URL(databaseUrl);
    const args = [
      ...["-h", url.hostname, "-p", url.port || "5432", "-U", decodeURIComponent(url.username) || "postgres"],
      ...["-c", String(clients), "-j", "2", "-T", String(seconds), "-n", "-M", "prepared"],
      ...["-f", file, "--log", `--log-prefix=${join(work, "tx")}`],
      url.pathname.slice(1),
    ];
    const env: Record<string, string> = url.password ? { PGPASSWORD: decodeURIComponent(url.password) } : {};
    const output = await runPgbench(args, env, log);
    const tps = Number(/^tps = ([\d.]+)/m.exec(output)?.[1]);
    const failed = Number(/number of failed transactions: (\d+)/.exec(output)?.[1] ?? 0);
    if (!Number.isFinite(tps) || failed > 0) throw new Error(`pgbench failed or gave no TPS:\n${output}`);

    // requestsPerSecond is pgbench's own TPS (connection set-up excluded). Per-transaction log lines: client_id transaction_no time script_no time_epoch time_us [...]
    const latencies: number[] = [];
    for (const name of await readdir(work)) {
      if (!name.startsWith("tx")) continue;
      for (const line of (await readFile(join(work, name), "utf8")).split("\n")) {
        const fields = line.split(" ");
        if (fields.length < 6) continue;
        latencies.push(Number(fields[2]) / 1000);
      }
    }
    if (latencies.length === 0) throw new Error(`pgbench logged no transaction:\n${output}`);
    const sorted = Float64Array.from(latencies).sort();
    return {
      seconds,
      requests: sorted.length,
      requestsPerSecond: tps,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1]!,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * pgbench needs `clients` free connections; on a PostgreSQL shared with other work (test suites) they
 * may be taken for a moment. That is retried a few times, a second apart; any other failure is not.
 */
async function runPgbench(args: string[], env: Record<string, string>, log: (line: string) => void): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run("pgbench", args, env);
    } catch (err) {
      if (attempt >= 5 || !(err instanceof Error) || !err.message.includes("too many clients")) throw err;
      log(`pgbench: PostgreSQL has too few free connections; trying again (${attempt}/4)`);
      await sleep(1000);
    }
  }
}

async function run(command: string, args: string[], env: Record<string, string>): Promise<string> {
  const child = spawnProcess(command, args, { env: { ...process.env, ...env } });
  const { code } = await child.exit;
  if (code !== 0) throw new Error(`${command} exited ${code}:\n${child.output()}`);
  return child.output();
}
