import { createCipheriv, createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { spawnProcess } from "../src/testing/index.js";
import { embeddedServers } from "./support/server-process.js";

const { start, dataDir } = embeddedServers();
const MiB = 1024 * 1024;

/** The size of a process's resident set, in bytes. */
async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) * 1024;
}

/** `mib` MiB of incompressible bytes, the same on every call: an AES-CTR keystream, a chunk at a time. */
function* bytes(mib: number): Generator<Buffer> {
  const keystream = createCipheriv("aes-256-ctr", Buffer.alloc(32, 7), Buffer.alloc(16));
  const zeros = Buffer.alloc(MiB);
  for (let i = 0; i < mib; i++) yield keystream.update(zeros);
}

function put(url: string, size: number, body: Readable): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "PUT", headers: { "content-length": size } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    body.pipe(req);
  });
}

describe("the local driver at scale", () => {
  // 256 MiB by default; TEST_BLOB_MIB=1024 measures the 1 GiB case.
  const mib = Number(process.env.TEST_BLOB_MIB ?? 256);

  test(`receives and serves a ${mib} MiB component with the server's memory flat`, async () => {
    const server = start(await dataDir(), { METHODIC_PART_SIZE: String(64 * MiB) });
    await server.url;
    const pid = server.child.pid!;
    const json = async (path: string, init?: RequestInit) => (await server.fetch(path, init)).json() as Promise<any>;

    const hash = createHash("sha256");
    for (const chunk of bytes(mib)) hash.update(chunk);
    const sha256 = hash.digest("hex");
    await json("/v1/experiments", { method: "POST", body: JSON.stringify({ id: "big" }) });
    await json("/v1/experiments/big/variations/v/runs/0/start", { method: "POST" });
    const { asset, upload } = await json("/v1/experiments/big/variations/v/runs/0/assets", {
      method: "POST",
      body: JSON.stringify({ asset_type: "checkpoint", components: [{ path: "model.bin", size: mib * MiB, sha256 }] }),
    });

    const baseline = await rss(pid);
    let peak = baseline;
    const sampler = setInterval(async () => {
      peak = Math.max(peak, await rss(pid).catch(() => 0));
    }, 20);
    try {
      // The parts in order, two at a time, each streamed from the generator.
      const parts = upload.components[0].parts as { offset: number; size: number; url: string }[];
      const source = bytes(mib);
      const slice = function* (count: number) {
        for (let i = 0; i < count; i++) yield source.next().value as Buffer;
      };
      for (let i = 0; i < parts.length; i += 2) {
        const batch = parts.slice(i, i + 2);
        const bodies = batch.map((part) => Readable.from([...slice(part.size / MiB)]));
        const statuses = await Promise.all(batch.map((part, j) => put(part.url, part.size, bodies[j]!)));
        expect(statuses).toEqual(batch.map(() => 200));
      }
      const ready = await json(`/v1/assets/${asset.id}/finalize`, { method: "POST" });
      expect(ready.asset.state).toBe("ready");

      const download = await json(`/v1/assets/${asset.id}/download`);
      const got = createHash("sha256");
      const response = await fetch(download.components[0].url);
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) got.update(chunk);
      expect(got.digest("hex")).toBe(sha256);
    } finally {
      clearInterval(sampler);
    }
    const growth = peak - baseline;
    console.log(`server RSS: baseline ${(baseline / MiB).toFixed(0)} MiB, growth ${(growth / MiB).toFixed(1)} MiB`);
    expect(growth).toBeLessThanOrEqual(64 * MiB);
  }, 300_000);
});

describe("the README's checkpoint example", () => {
  test("uploads a checkpoint with a multipart file through the REST API alone and restores it byte for byte", async () => {
    const dir = await dataDir();
    // Plans of 2 pieces: the script follows their pages.
    const server = start(dir, { METHODIC_PART_SIZE: String(5 * MiB), METHODIC_PLAN_MAX_PIECES: "2" });
    const url = await server.url;
    const script = fileURLToPath(new URL("../../../examples/checkpoint-with-curl.sh", import.meta.url));
    const token = (await readFile(join(dir, "admin-token"), "utf8")).trim();
    const curl = spawnProcess("bash", [script], {
      env: { PATH: process.env.PATH, METHODIC_URL: url, METHODIC_TOKEN: token, BIG_MIB: "12", PART_MIB: "5", RUN: "0" },
    });
    expect((await curl.exit).code, curl.output()).toBe(0);
    const stdout = curl.stdout();
    expect(stdout).toMatch(/finalized [0-9a-f-]{36}: ready, 12587037 bytes/);
    expect(stdout).toMatch(/restored [0-9a-f-]{36}: byte-identical/);
  });
});
