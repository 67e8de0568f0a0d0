import { rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type OptionsSpec, type OptionTable, parseOptions, UsageError, usageOf, type Values } from "./options.js";
import { writeReport } from "./report.js";

/**
 * Nothing to measure here (a `--smoke` run without what it needs): the message is printed, and the
 * benchmark exits 0, since a smoke run checks the scripts, not the machine.
 */
export class Skipped extends Error {}

export interface Run {
  /** A line of progress on stderr, so that stdout holds only the report. */
  log(line: string): void;
  /** Prints the tables, then writes the JSON document (see writeReport) where `--json` says. */
  report(report: { tables: string; machine?: object; document: object }): Promise<void>;
}

/** A line of progress on stderr, marked with the benchmark's name. */
export const logFor =
  (name: string) =>
  (line: string): void =>
    console.error(`[${name}] ${line}`);

/**
 * Runs a benchmark: reads its options from the command line (`--help` prints the usage and exits 0),
 * then `main`. A UsageError prints the message and the usage and exits 2; any other error its message
 * and exits 1; Ctrl-C exits 130 (children clean up after themselves: they see it too); Skipped, its
 * message and 0. A figure that misses its target is reported, never an exit code.
 */
export async function runBenchmark<T extends OptionTable>(
  spec: OptionsSpec<T>,
  main: (options: Values<T>, run: Run) => Promise<void>,
): Promise<void> {
  const log = logFor(spec.name);
  process.once("SIGINT", () => process.exit(130));
  try {
    const options = parseOptions(spec, process.argv.slice(2));
    if (!options) {
      console.log(usageOf(spec));
      return;
    }
    await main(options, {
      log,
      report: (report) => writeReport({ benchmark: spec.name, ...report }, options.json, log),
    });
  } catch (err) {
    log(err instanceof Error ? err.message : String(err));
    if (err instanceof Skipped) return;
    if (err instanceof UsageError) console.error(usageOf(spec));
    process.exit(err instanceof UsageError ? 2 : 1);
  }
}

/** A temporary directory for a run's files: removed at the end, on an error, and on Ctrl-C. */
export async function withWorkDir<T>(name: string, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), `methodic-bench-${name}-`));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  // Ctrl-C ends the process with process.exit, which runs no finally but does run "exit" listeners.
  process.once("exit", remove);
  try {
    return await work(dir);
  } finally {
    process.off("exit", remove);
    remove();
  }
}
