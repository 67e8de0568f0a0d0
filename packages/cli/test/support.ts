import { fileURLToPath } from "node:url";
import { type SpawnedProcess, spawnNode } from "@methodic/server/testing";

/** The built binary, as `methodic` runs it once installed. */
export const BIN = fileURLToPath(new URL("../bin/methodic.js", import.meta.url));

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `methodic <args>` in a child process, with only the given environment (plus PATH). */
export function methodic(args: string[], env: NodeJS.ProcessEnv): SpawnedProcess {
  return spawnNode(BIN, args, { env: { PATH: process.env.PATH, ...env } });
}

/** What a finished `methodic` printed, and how it ended. */
export async function resultOf(child: SpawnedProcess): Promise<Result> {
  const exit = await child.exit;
  return { ...exit, stdout: child.stdout(), stderr: child.stderr() };
}

export const run = (args: string[], env: NodeJS.ProcessEnv) => resultOf(methodic(args, env));
