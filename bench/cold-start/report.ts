import { markdownTable, paragraphs } from "../lib/report.js";
import { median } from "../lib/stats.js";

export type Case = "pglite-existing" | "pglite-new" | "postgres";
export const CASES: Case[] = ["pglite-existing", "pglite-new", "postgres"];

/** How a server is started: `pnpm start` at the repository root, or its last step, node on the built entry. */
export type Launcher = "pnpm start" | "node server.js";

/** The project issue's targets, for `pnpm start`; the node figures show the server's own share. */
export const TARGET_MS: Record<Case, number> = { "pglite-existing": 1500, "pglite-new": 5000, postgres: 1500 };

export interface Start {
  /** From spawn to the first 200 of /readyz. */
  readyMs: number;
  /** From spawn to the server's "serving" log line (its pino timestamp): when it listened. */
  listeningMs: number | null;
  /** `pnpm start` only: did turbo find the server's build in its cache (no tsc run)? */
  turboCached: boolean | null;
}

export interface Sample extends Start {
  case: Case;
  launcher: Launcher;
  round: number;
}

export interface Summary {
  case: Case;
  launcher: Launcher;
  /** Samples in the median: for pnpm start, the rounds where turbo found its build cached. */
  used: number;
  rounds: number;
  medianMs: number | null;
  minMs: number | null;
  maxMs: number | null;
  medianListeningMs: number | null;
  targetMs: number;
  met: boolean | null;
}

const orNull = (n: number) => (Number.isNaN(n) ? null : n);

export function summarize(samples: Sample[], cases: Case[], launchers: Launcher[]): Summary[] {
  return cases.flatMap((kase) =>
    launchers.map((launcher) => {
      const all = samples.filter((s) => s.case === kase && s.launcher === launcher);
      // A round where turbo rebuilt the server (another engineer changed its sources) measures tsc.
      const used = all.filter((s) => s.turboCached !== false);
      const ready = orNull(median(used.map((s) => s.readyMs)));
      const listening = orNull(median(used.flatMap((s) => (s.listeningMs === null ? [] : [s.listeningMs]))));
      const targetMs = TARGET_MS[kase];
      return {
        case: kase,
        launcher,
        used: used.length,
        rounds: all.length,
        medianMs: ready,
        minMs: used.length ? Math.min(...used.map((s) => s.readyMs)) : null,
        maxMs: used.length ? Math.max(...used.map((s) => s.readyMs)) : null,
        medianListeningMs: listening,
        targetMs,
        met: ready === null ? null : ready <= targetMs,
      };
    }),
  );
}

export const ms = (n: number | null) =>
  n === null ? "-" : n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${Math.round(n)} ms`;

export function formatReport(summaries: Summary[]): string {
  const table = markdownTable(
    [
      "case",
      "command",
      "rounds used",
      "median to /readyz 200",
      "min",
      "max",
      "median to listening",
      "target",
      "verdict",
    ],
    summaries.map((s) => [
      s.case,
      s.launcher === "pnpm start" ? "pnpm start" : "node apps/server/dist/server.js",
      `${s.used}/${s.rounds}`,
      ms(s.medianMs),
      ms(s.minMs),
      ms(s.maxMs),
      ms(s.medianListeningMs),
      s.launcher === "pnpm start" ? `<= ${ms(s.targetMs)}` : `(${ms(s.targetMs)})`,
      s.met === null ? "-" : s.launcher === "pnpm start" ? (s.met ? "met" : "MISSED") : s.met ? "within" : "over",
    ]),
  );
  return paragraphs(
    "Cold start: spawn to the first 200 of GET /readyz (medians; pnpm start rounds in which turbo rebuilt the server are left out)",
    table,
  );
}
