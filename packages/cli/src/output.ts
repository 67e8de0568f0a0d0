import { SingleBar } from "cli-progress";
import Table from "cli-table3";
import prettyBytes from "pretty-bytes";

export const bytes = (n: number) => prettyBytes(n, { binary: true });

/**
 * Characters a terminal acts on rather than shows: C0 controls (escape sequences, newlines, carriage
 * returns, backspaces, bells), DEL and the C1 controls (U+009B opens a control sequence too), and the
 * Unicode marks that reorder text or break lines.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its purpose
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * Text from the server as the terminal is to show it: every control character written as an escape
 * (`\x1b`, `\n`, `\u202e`), so that what a name or message holds can neither move the cursor,
 * recolour, clear or retitle the terminal, nor pass itself off as another line or cell.
 */
export function terminalText(text: string): string {
  return text.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return NAMED[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16)}`);
  });
}

/** One line on a stream, its control characters escaped (it may hold what the server said). */
export function printLine(line: string, stream: NodeJS.WritableStream = process.stdout): void {
  stream.write(`${terminalText(line)}\n`);
}

/** One JSON document on stdout, for scripts: exactly what the API answered, not escaped for a terminal. */
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
  const width = Math.max(...Object.keys(record).map((k) => terminalText(k).length));
  for (const [key, value] of Object.entries(record)) {
    process.stdout.write(`${terminalText(key).padEnd(width)}  ${cellText(value)}\n`);
  }
}

/** A value as one table cell or record line: escaped, so that it stays on its line. */
function cellText(value: unknown): string {
  if (value === null || value === undefined) return "-";
  return terminalText(typeof value === "object" ? JSON.stringify(value) : String(value));
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
