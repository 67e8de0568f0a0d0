import type { DatabaseDriver } from "@methodic/server/testing";
import type { JsMemory } from "../lib/child.js";
import { markdownTable, paragraphs } from "../lib/report.js";
import { formatBytes } from "../lib/stats.js";
import type { HostileMeasurement } from "./hostile.js";
import type { Measurement } from "./measure.js";

interface Target {
  name: string;
  /** The database whose results it applies to; all of them when absent. */
  database?: DatabaseDriver;
  limit: number;
  value(m: Measurement): number;
}

/**
 * The targets of the project issue. "MB" there is read as MiB, the unit every figure here is in.
 * A missed target is reported, never an error: the bench measures, it does not gate.
 */
export const TARGETS: Target[] = [
  { name: "SDK peak RSS <= 200 MB", limit: 200, value: (m) => m.sdk.peakRss },
  { name: "server peak RSS <= 200 MB on PostgreSQL", database: "postgres", limit: 200, value: (m) => m.server.peakRss },
  { name: "server growth over idle <= 100 MB", limit: 100, value: (m) => m.server.growth },
];

/** The integrity issue's: hostile requests (the plan amplification case) cannot push the server past +300 MB. */
export const HOSTILE_LIMIT = 300;

export interface Verdict {
  target: string;
  storage: Measurement["storage"];
  database: DatabaseDriver;
  value: number;
  limit: number;
  met: boolean;
}

export function verdicts(results: Measurement[]): Verdict[] {
  return TARGETS.flatMap((target) =>
    results
      .filter((m) => target.database === undefined || target.database === m.database)
      .map((m) => {
        const value = target.value(m);
        return {
          target: target.name,
          storage: m.storage,
          database: m.database,
          value,
          limit: target.limit,
          met: value <= target.limit,
        };
      }),
  );
}

const mib = (n: number) => `${n.toFixed(1)} MiB`;

/** The human report: figures, where JavaScript's memory went, and the targets. */
export function hostileVerdicts(results: HostileMeasurement[]): Verdict[] {
  return results.map((m) => ({
    target: `server growth under hostile requests <= ${HOSTILE_LIMIT} MB`,
    storage: m.storage,
    database: m.database,
    value: m.server.growth,
    limit: HOSTILE_LIMIT,
    met: m.server.growth <= HOSTILE_LIMIT,
  }));
}

export function formatReport(results: Measurement[], hostile: HostileMeasurement[]): string {
  const figures = markdownTable(
    [
      "storage",
      "database",
      "size",
      "time",
      "throughput",
      "SDK start",
      "SDK peak",
      "server idle",
      "server peak",
      "server growth",
      "MinIO peak",
    ],
    results.map((m) => [
      m.storage,
      m.database,
      formatBytes(m.sizeBytes),
      `${m.seconds.toFixed(1)} s`,
      `${m.mibPerSecond.toFixed(1)} MiB/s`,
      mib(m.sdk.startRss),
      mib(m.sdk.peakRss),
      mib(m.server.idleRss),
      mib(m.server.peakRss),
      mib(m.server.growth),
      m.s3Server ? mib(m.s3Server.peakRss) : "-",
    ]),
  );
  const jsRow = (who: string, m: Measurement, memory: JsMemory) => [
    who,
    m.storage,
    m.database,
    mib(memory.heapUsed),
    mib(memory.external),
    mib(memory.arrayBuffers),
  ];
  const js = markdownTable(
    ["process", "storage", "database", "heap used", "external (with array buffers)", "array buffers"],
    results.flatMap((m) => [jsRow("SDK", m, m.sdk.js), jsRow("server", m, m.server.js)]),
  );
  const targets = markdownTable(
    ["target", "storage", "database", "measured", "verdict"],
    [...verdicts(results), ...hostileVerdicts(hostile)].map((v) => [
      v.target,
      v.storage,
      v.database,
      mib(v.value),
      v.met ? "met" : "MISSED",
    ]),
  );
  const attacks = markdownTable(
    [
      "storage",
      "database",
      "request",
      "count",
      "statuses",
      "largest answer",
      "slowest",
      "server growth",
      "slowest /healthz",
    ],
    hostile.flatMap((m) =>
      m.requests.map((r) => [
        m.storage,
        m.database,
        r.what,
        String(r.requests),
        r.statuses.join(", "),
        formatBytes(r.maxBodyBytes),
        `${r.maxSeconds.toFixed(3)} s`,
        mib(m.server.growth),
        `${m.healthzMaxMs} ms`,
      ]),
    ),
  );
  return paragraphs(
    "Memory during a single-file checkpoint upload (RSS; peaks sampled every 50 ms, SDK peak is VmHWM)",
    figures,
    "JavaScript's share during the upload (peaks of process.memoryUsage(); the rest of the RSS is native)",
    js,
    `Hostile requests: assets declaring ${hostile[0]?.declaredPieces ?? 0} pieces of 64 MiB each, their plans asked for again, /parts with 10,000 entries, while /healthz is timed`,
    attacks,
    "Targets (project issue)",
    targets,
  );
}
