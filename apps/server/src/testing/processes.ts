import { type ChildProcess, spawn } from "node:child_process";

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  cwd?: string;
  /** The whole environment of the child (nothing is inherited unless passed). */
  env?: NodeJS.ProcessEnv;
  /** Run as this user and group (a program that refuses to run as root, run by root). */
  uid?: number;
  gid?: number;
}

/** A child process whose output is collected as it comes. */
export interface SpawnedProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Both streams, interleaved as they arrived. */
  output(): string;
  /** Resolves with the first match in what the child printed (stdout and stderr); rejects if it exits first. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>;
  /** Resolves once the child exited and its output was read to the end. */
  exit: Promise<ProcessExit>;
  /** Sends the signal (unless it already exited) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<ProcessExit>;
}

const running = new Set<SpawnedProcess>();

/** Spawns a command and collects everything it prints; every test's children go through here. */
export function spawnProcess(command: string, args: string[], options: SpawnOptions = {}): SpawnedProcess {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.uid !== undefined && { uid: options.uid }),
    ...(options.gid !== undefined && { gid: options.gid }),
  });
  let stdout = "";
  let stderr = "";
  let output = "";
  const watchers = new Set<() => void>();
  const collect = (stream: "out" | "err") => (chunk: Buffer) => {
    const text = chunk.toString();
    if (stream === "out") stdout += text;
    else stderr += text;
    output += text;
    for (const watcher of watchers) watcher();
  };
  child.stdout?.on("data", collect("out"));
  child.stderr?.on("data", collect("err"));
  // "close" comes after the output is read to the end, unlike "exit". A command that cannot start
  // (not installed) emits "error" and never "close": it counts as exited, its reason in the output.
  const exit = new Promise<ProcessExit>((resolve) => {
    child.once("close", (code, signal) => resolve({ code, signal }));
    child.once("error", (err) => {
      output += `${command}: ${err.message}\n`;
      stderr += `${command}: ${err.message}\n`;
      resolve({ code: null, signal: null });
    });
  });
  const spawned: SpawnedProcess = {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    output: () => output,
    exit,
    waitFor(pattern) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output);
          if (match) {
            watchers.delete(check);
            resolve(match);
          }
        };
        watchers.add(check);
        check();
        exit.then(({ code, signal }) => {
          if (!watchers.has(check)) return;
          watchers.delete(check);
          reject(new Error(`${command} exited (${signal ?? code}) before printing ${pattern}:\n${output}`));
        });
      });
    },
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exit;
    },
  };
  running.add(spawned);
  exit.then(() => running.delete(spawned));
  return spawned;
}

/** Kills every child still running (a test's cleanup, so that none outlives its test). */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop("SIGKILL")));
}

/** `node <script> ...args` with this process's Node.js. */
export function spawnNode(script: string, args: string[] = [], options: SpawnOptions = {}): SpawnedProcess {
  return spawnProcess(process.execPath, [script, ...args], options);
}
