import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

/** The built binary, as `methodic` runs it once installed. */
export const BIN = fileURLToPath(new URL("../bin/methodic.js", import.meta.url));

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `methodic <args>` in a child process, with only the given environment (plus PATH). */
export function methodic(args: string[], env: NodeJS.ProcessEnv): ChildProcess & { result: Promise<Result> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const result = once(child, "close").then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
    stdout,
    stderr,
  }));
  return Object.assign(child, { result });
}

export const run = (args: string[], env: NodeJS.ProcessEnv) => methodic(args, env).result;

/** Resolves once the child's stderr matches, with the match. */
export function waitForStderr(child: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const onData = (chunk: Buffer) => {
      seen += chunk;
      const match = pattern.exec(seen);
      if (match) {
        child.stderr?.off("data", onData);
        resolve(match);
      }
    };
    child.stderr?.on("data", onData);
    child.once("close", (code) => reject(new Error(`exited (${code}) before printing ${pattern}: ${seen}`)));
  });
}
