// The server under hostile requests: the upload-plan amplification case of the integrity issue. Small
// bodies that declare huge assets (20 components of 10,000 parts each), their plans asked for again and
// again, and a /parts report of 10,000 entries, while a probe times /healthz: the server's RSS growth
// over idle and its longest stall.
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { DatabaseDriver, StorageDriver } from "@methodic/server/testing";
import { launchServer } from "../lib/server.js";
import { MiB, round } from "../lib/stats.js";
import { memoryOf, RssSampler } from "./rss.js";

export interface HostileOptions {
  storage: StorageDriver;
  database: DatabaseDriver;
  /** Components per asset, each of `parts` parts of 64 MiB. */
  components: number;
  parts: number;
  /** Assets created, and /uploads asked of each. */
  assets: number;
  replans: number;
}

/** One status and duration per hostile request kind. */
export interface HostileRequest {
  what: string;
  requests: number;
  statuses: number[];
  /** The largest answer, in bytes. */
  maxBodyBytes: number;
  maxSeconds: number;
}

export interface HostileMeasurement {
  storage: StorageDriver;
  database: DatabaseDriver;
  declaredPieces: number;
  requests: HostileRequest[];
  server: { idleRss: number; peakRss: number; growth: number };
  /** The slowest /healthz answer while the hostile requests ran, in ms (probed every 20 ms). */
  healthzMaxMs: number;
  /** Probes that got no answer. */
  healthzFailures: number;
}

const PART = 64 * MiB;
const IDLE_SETTLE_MS = 1000;

export async function measureHostile(options: HostileOptions): Promise<HostileMeasurement> {
  const server = await launchServer({ launch: "harness", database: options.database, storage: options.storage });
  let sampler: RssSampler | undefined;
  const probe = new HealthProbe(server.url);
  try {
    const call = async (method: string, path: string, body?: object) => {
      const started = performance.now();
      const res = await fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${server.token}`, ...(body && { "content-type": "application/json" }) },
        ...(body && { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return {
        status: res.status,
        text,
        bytes: Buffer.byteLength(text),
        seconds: (performance.now() - started) / 1000,
      };
    };
    const run = "/v1/experiments/bench-hostile/variations/v/runs/0";
    await call("POST", "/v1/experiments", { id: "bench-hostile" });
    const started = await call("POST", `${run}/start`);
    if (started.status !== 200) throw new Error(`starting the run answered ${started.status}: ${started.text}`);

    // S3 requires the SHA-256 of every part of a multipart file: the hostile client sends made-up ones.
    const partHashes = options.storage === "s3";
    const manifest = {
      asset_type: "checkpoint",
      part_size: PART,
      components: Array.from({ length: options.components }, (_, i) => ({
        path: `shard-${i}.bin`,
        size: options.parts * PART,
        sha256: randomBytes(32).toString("hex"),
        ...(partHashes && {
          part_sha256: Array.from({ length: options.parts }, () => randomBytes(32).toString("hex")),
        }),
      })),
    };

    await sleep(IDLE_SETTLE_MS);
    const idle = memoryOf(server.pid)?.rss ?? 0;
    sampler = new RssSampler([server.pid]);
    probe.start();

    const tally = new Map<string, HostileRequest>();
    const count = (what: string, answer: { status: number; bytes: number; seconds: number }) => {
      const row = tally.get(what) ?? { what, requests: 0, statuses: [], maxBodyBytes: 0, maxSeconds: 0 };
      row.requests++;
      if (!row.statuses.includes(answer.status)) row.statuses.push(answer.status);
      row.maxBodyBytes = Math.max(row.maxBodyBytes, answer.bytes);
      row.maxSeconds = round(Math.max(row.maxSeconds, answer.seconds), 3);
      tally.set(what, row);
    };

    for (let a = 0; a < options.assets; a++) {
      const created = await call("POST", `${run}/assets`, manifest);
      count("create", created);
      if (created.status !== 201) continue;
      const id = (JSON.parse(created.text) as { asset: { id: string } }).asset.id;
      // Plans asked for two at a time, as retrying clients would.
      for (let r = 0; r < options.replans; r += 2) {
        const answers = await Promise.all([0, 1].map(() => call("POST", `/v1/assets/${id}/uploads`)));
        for (const answer of answers) count("uploads", answer);
      }
      const parts = Array.from({ length: 10_000 }, (_, i) => ({
        path: manifest.components[i % options.components]!.path,
        part_number: Math.floor(i / options.components) + 1,
        etag: `"${randomBytes(16).toString("hex")}"`,
      }));
      count("parts", await call("POST", `/v1/assets/${id}/parts`, { parts }));
    }
    sampler.stop();
    const peak = sampler.peak(server.pid);
    return {
      storage: options.storage,
      database: options.database,
      declaredPieces: options.components * options.parts,
      requests: [...tally.values()],
      server: { idleRss: mib(idle), peakRss: mib(peak), growth: mib(peak - idle) },
      healthzMaxMs: round(await probe.stop(), 1),
      healthzFailures: probe.failures,
    };
  } finally {
    sampler?.stop();
    await probe.stop();
    await server.stop();
  }
}

/** GET /healthz one after another, 20 ms apart, keeping the slowest answer. */
class HealthProbe {
  private running: Promise<void> | undefined;
  private stopped = false;
  private slowest = 0;
  failures = 0;

  constructor(private readonly url: string) {}

  start(): void {
    this.running = (async () => {
      while (!this.stopped) {
        const started = performance.now();
        // A reset (the server closing a kept-alive socket as the probe reuses it) is a failed probe,
        // not a stall: counted, and the probe goes on.
        await fetch(`${this.url}/healthz`)
          .then((res) => res.arrayBuffer())
          .then(
            () => (this.slowest = Math.max(this.slowest, performance.now() - started)),
            () => this.failures++,
          );
        await sleep(20);
      }
    })();
  }

  async stop(): Promise<number> {
    this.stopped = true;
    await this.running;
    return this.slowest;
  }
}

const mib = (bytes: number) => round(bytes / MiB, 1);
