import { SingleBar } from "cli-progress";
import Table from "cli-table3";
import prettyBytes from "pretty-bytes";

export const bytes = (n: number) => prettyBytes(n, { binary: true });

/** One JSON document on stdout, for scripts. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Rows as an aligned table without borders, the way `kubectl get` and `docker ps` print them. */
export function printTable<T>(items: T[], columns: Record<string, (item: T) => unknown>): void {
  const table = new Table({
    head: Object.keys(columns),
    chars: Object.fromEntries(
      [
        "top",
        "top-mid",
        "top-left",
        "top-right",
        "bottom",
        "bottom-mid",
        "bottom-left",
        "bottom-right",
        "left",
        "left-mid",
        "mid",
        "mid-mid",
        "right",
        "right-mid",
        "middle",
      ].map((c) => [c, c === "middle" ? "  " : ""]),
    ),
    style: { head: [], border: [], "padding-left": 0, "padding-right": 0 },
  });
  for (const item of items) table.push(Object.values(columns).map((cell) => cellText(cell(item))));
  const lines = table.toString().split("\n");
  process.stdout.write(`${lines.map((line) => line.trimEnd()).join("\n")}\n`);
}

/** One record as `key  value` lines; nested values as compact JSON. */
export function printRecord(record: Record<string, unknown>): void {
  const width = Math.max(...Object.keys(record).map((k) => k.length));
  for (const [key, value] of Object.entries(record)) {
    process.stdout.write(`${key.padEnd(width)}  ${cellText(value)}\n`);
  }
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return "-";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** `2026-11-27T07:44:29.123Z` as `2026-11-27 07:44:29`, for tables. */
export const when = (timestamp: string | null | undefined) => timestamp?.replace("T", " ").slice(0, 19) ?? null;

export interface Progress {
  update(done: number): void;
  stop(): void;
}

/**
 * Progress of a transfer on stderr (stdout stays for results): a bar with bytes, rate and ETA on a
 * terminal, a plain line every few seconds otherwise (logs, CI, pipes).
 */
export function progress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  const started = Date.now();
  let first: number | undefined;
  const rate = (done: number) => {
    const seconds = (Date.now() - started) / 1000;
    return seconds > 0 ? (done - (first ?? 0)) / seconds : 0;
  };
  const eta = (done: number) => {
    const speed = rate(done);
    return speed > 0 ? `${Math.ceil((total - done) / speed)} s` : "-";
  };

  if (stream.isTTY) {
    const bar = new SingleBar({
      stream,
      format: `${label} [{bar}] {percentage}% | {done} / {size} | {rate}/s | ETA {eta}`,
      barsize: 24,
      hideCursor: true,
    });
    bar.start(total, 0, { done: bytes(0), size: bytes(total), rate: bytes(0), eta: "-" });
    return {
      update(done) {
        first ??= done;
        bar.update(done, { done: bytes(done), rate: bytes(rate(done)), eta: eta(done) });
      },
      stop: () => bar.stop(),
    };
  }

  let lastLine = 0;
  const line = (done: number) => {
    const pct = total > 0 ? Math.floor((100 * done) / total) : 100;
    stream.write(`${label}: ${bytes(done)} of ${bytes(total)} (${pct}%), ${bytes(rate(done))}/s, ETA ${eta(done)}\n`);
    lastLine = Date.now();
  };
  let latest = 0;
  return {
    update(done) {
      first ??= done;
      latest = done;
      if (Date.now() - lastLine >= 2000) line(done);
    },
    stop: () => line(latest),
  };
}
