import { readFileSync } from "node:fs";

/**
 * VmRSS (resident now) and VmHWM (the most it was ever resident) of a live process, in bytes, from
 * /proc: Linux only. Undefined once the process is gone.
 */
export function memoryOf(pid: number): { rss: number; hwm: number } | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const bytes = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status)?.[1]) * 1024;
  return { rss: bytes("VmRSS"), hwm: bytes("VmHWM") };
}

/** Reads the RSS of some processes every `intervalMs` and keeps the largest seen for each. */
export class RssSampler {
  private readonly peaks = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(pids: number[], intervalMs = 50) {
    for (const pid of pids) this.add(pid);
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  add(pid: number): void {
    this.peaks.set(pid, 0);
    this.sample();
  }

  /** The largest RSS seen for `pid`, in bytes. */
  peak(pid: number): number {
    return this.peaks.get(pid) ?? 0;
  }

  stop(): void {
    this.sample();
    clearInterval(this.timer);
  }

  private sample(): void {
    for (const [pid, peak] of this.peaks) {
      const rss = memoryOf(pid)?.rss ?? 0;
      if (rss > peak) this.peaks.set(pid, rss);
    }
  }
}
