import { createInterface } from "node:readline";
import { MiB } from "./stats.js";

/** One message to the parent: a JSON document on a line of stdout. */
export function tell(message: object): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/**
 * Calls `onCommand` for each line the parent sends, and `onEnd` once: when the parent closes our stdin
 * (which also happens when it dies, so a child never outlives its bench), or on SIGTERM or SIGINT (a
 * Ctrl-C reaches the whole process group).
 */
export function listen(onCommand: (command: string) => void, onEnd: () => Promise<void>): void {
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    void onEnd();
  };
  const input = createInterface({ input: process.stdin });
  input.on("line", (line) => onCommand(line.trim()));
  input.on("close", end);
  process.on("SIGTERM", end);
  process.on("SIGINT", end);
}

export type JsMemory = Record<"heapUsed" | "external" | "arrayBuffers", number>;

/**
 * The largest V8 heap, external and ArrayBuffer memory seen (MiB), sampled every 50 ms: the part of
 * the RSS that JavaScript holds, to tell it apart from the rest (code, native buffers, allocator).
 */
export function watchJsMemory(): { take(): JsMemory } {
  let peak: JsMemory = { heapUsed: 0, external: 0, arrayBuffers: 0 };
  const sample = () => {
    const now = process.memoryUsage();
    for (const key of Object.keys(peak) as (keyof JsMemory)[]) peak[key] = Math.max(peak[key], now[key] / MiB);
  };
  setInterval(sample, 50).unref();
  return {
    /** The peaks since the last take. */
    take() {
      sample();
      const taken = peak;
      peak = { heapUsed: 0, external: 0, arrayBuffers: 0 };
      return taken;
    },
  };
}
