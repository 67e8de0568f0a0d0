import { writeFile } from "node:fs/promises";
import { cpus, release, totalmem } from "node:os";
import pg from "pg";

/** A Markdown table with padded columns: readable in a terminal, and pasted as is into a README. */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) => `| ${widths.map((w, i) => (cells[i] ?? "").padEnd(w)).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** Titles and tables, a blank line between each: how every report reads. */
export const paragraphs = (...blocks: string[]): string => blocks.join("\n\n");

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

/** The version of the PostgreSQL server TEST_DATABASE_URL names; null without one, or if it does not answer. */
export async function postgresVersion(): Promise<string | null> {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) return null;
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    return (await client.query<{ server_version: string }>("show server_version")).rows[0]?.server_version ?? null;
  } catch {
    return null;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * A run's result: the tables for people on stdout, then the JSON document (what it is, when, where,
 * then the benchmark's own fields), into `path` when `--json` named one, else to stdout after them.
 */
export async function writeReport(
  report: { benchmark: string; tables: string; machine?: object; document: object },
  path: string | undefined,
  log: (line: string) => void,
): Promise<void> {
  const document = {
    benchmark: report.benchmark,
    date: new Date().toISOString(),
    machine: { ...machine(), ...report.machine },
    ...report.document,
  };
  console.log(report.tables);
  const text = JSON.stringify(document, null, 2);
  if (path) {
    await writeFile(path, `${text}\n`);
    log(`wrote ${path}`);
  } else {
    console.log(`\n${text}`);
  }
}
