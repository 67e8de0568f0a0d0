// The processes of bench/python-upload: each side a fresh Python process (the checkout's .venv, as
// .ci/python makes it), which times itself and prints one JSON line.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { spawnProcess } from "@methodic/server/testing";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const here = fileURLToPath(new URL(".", import.meta.url));

/** The checkout's Python tools (pytest, boto3, ...), or PYTHON. */
export function pythonOf(): string {
  const python = process.env.PYTHON ?? `${repoRoot}.venv/bin/python`;
  if (!existsSync(python)) throw new Error(`${python} does not exist: run .ci/python (it makes .venv) or set PYTHON`);
  return python;
}

/** Runs one side's script with its options, and answers the JSON line it printed last. */
export async function runPythonSide<T>(script: "chronicle_side.py" | "boto3_side.py", options: object): Promise<T> {
  const child = spawnProcess(pythonOf(), [`${here}${script}`, JSON.stringify(options)], {
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/root",
      // The client from its source, as a trainer can use it without installing it.
      PYTHONPATH: `${repoRoot}clients/python/src`,
      PYTHONUNBUFFERED: "1",
    },
  });
  const { code, signal } = await child.exit;
  const last = child.stdout().trim().split("\n").pop() ?? "";
  if (code !== 0 || !last.startsWith("{")) {
    throw new Error(`${script} exited with ${code ?? signal}:\n${child.output().slice(-3000)}`);
  }
  return JSON.parse(last) as T;
}
