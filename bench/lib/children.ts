import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join, relative } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const benchRoot = fileURLToPath(new URL("..", import.meta.url));
const bundled = new Map<string, Promise<string>>();

/**
 * Bundles child scripts (paths relative to `base`, the caller's import.meta.url) to plain JavaScript
 * under bench/dist, each once per run, and answers their paths in order.
 *
 * Measured processes must not run under a TypeScript loader: tsx's module hooks live in a worker thread
 * of their own, which adds some 35 MiB to the RSS of every process it runs, a sixth of the budgets
 * measured here. Every package stays an import, resolved from bench/node_modules at run time.
 */
export async function bundle(base: string, names: string[]): Promise<string[]> {
  const entries = names.map((name) => fileURLToPath(new URL(name, base)));
  const missing = entries.filter((entry) => !bundled.has(entry));
  if (missing.length > 0) {
    const built = build({
      entryPoints: missing,
      outdir: join(benchRoot, "dist"),
      outbase: benchRoot,
      outExtension: { ".js": ".mjs" },
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      logLevel: "warning",
      plugins: [
        {
          name: "packages-stay-imports",
          setup(b) {
            b.onResolve({ filter: /^[^./]/ }, () => ({ external: true }));
          },
        },
      ],
    });
    for (const entry of missing) {
      bundled.set(
        entry,
        built.then(() => join(benchRoot, "dist", relative(benchRoot, entry).replace(/\.ts$/, ".mjs"))),
      );
    }
  }
  return Promise.all(entries.map((entry) => bundled.get(entry)!));
}

/**
 * A child process that speaks one JSON document per line on stdout and reads commands on stdin. Its
 * stderr is ours, so that its failures are seen. Closing its stdin asks it to clean up and exit.
 */
export class Child {
  readonly process: ChildProcess;
  readonly pid: number;
  private readonly lines: AsyncIterator<string>;

  constructor(
    readonly name: string,
    script: string,
    args: string[] = [],
  ) {
    this.process = spawn(process.execPath, [script, ...args], { stdio: ["pipe", "pipe", "inherit"] });
    if (this.process.pid === undefined) throw new Error(`${name} did not start`);
    this.pid = this.process.pid;
    // Writing to a child that already exited fails with EPIPE; its exit is reported by message().
    this.process.stdin!.on("error", () => {});
    this.lines = createInterface({ input: this.process.stdout! })[Symbol.asyncIterator]();
  }

  /** The next message, or an error when the child exits or `timeoutMs` passes first. */
  async message<T>(timeoutMs = 60_000): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.name} did not answer within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
    });
    try {
      const next = await Promise.race([this.lines.next(), timeout]);
      if (next.done) {
        await this.exited();
        throw new Error(`${this.name} exited (${this.process.exitCode ?? this.process.signalCode}) before answering`);
      }
      return JSON.parse(next.value) as T;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The first message whose `event` is `event`, passing over the others, within `timeoutMs` in all. */
  async until<T extends { event: string }, E extends T["event"]>(
    event: E,
    timeoutMs = 60_000,
  ): Promise<Extract<T, { event: E }>> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const message = await this.message<T>(Math.max(1, deadline - performance.now()));
      if (message.event === event) return message as Extract<T, { event: E }>;
    }
  }

  /** Sends a command and waits for its answer. */
  async ask<T>(command: string): Promise<T> {
    this.process.stdin!.write(`${command}\n`);
    return this.message<T>();
  }

  /** Closes its stdin and waits for it to exit, killing it if it takes longer than `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<void> {
    this.process.stdin!.end();
    const timer = setTimeout(() => this.process.kill("SIGKILL"), timeoutMs);
    await this.exited();
    clearTimeout(timer);
  }

  private async exited(): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) await once(this.process, "exit");
  }
}
