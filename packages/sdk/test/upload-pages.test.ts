import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN_TOKEN, startServer } from "@methodic/server/testing";
import { afterAll, beforeAll, expect, test } from "vitest";
import { listFiles } from "../src/files.js";
import { hashFile } from "../src/hashing.js";
import { Chronicle } from "../src/index.js";
import { UploadTracker } from "../src/upload-tracker.js";

// A server that hands out plans 3 pieces at a time: every upload below takes several pages.
const MiB = 1024 * 1024;
const PART = 5 * MiB;
let server: Awaited<ReturnType<typeof startServer>>;
let chronicle: Chronicle;

beforeAll(async () => {
  server = await startServer({ env: { METHODIC_PLAN_MAX_PIECES: "3" } });
  chronicle = new Chronicle({ baseUrl: server.url, token: ADMIN_TOKEN, partSize: PART });
});
afterAll(() => server.close());

/** 8 small files, an empty one and one of 3 parts: 11 pieces to send, in 4 pages. */
async function directory(): Promise<{ dir: string; files: Map<string, Buffer>; size: number }> {
  const dir = await mkdtemp(join(tmpdir(), "methodic-pages-"));
  const files = new Map<string, Buffer>([
    ["a/empty", Buffer.alloc(0)],
    ["b/model.safetensors", randomBytes(2 * PART + 17)],
    ...Array.from({ length: 8 }, (_, i): [string, Buffer] => [`c/shard-${i}.bin`, randomBytes(1000 + i)]),
  ]);
  for (const [path, bytes] of files) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
  const size = [...files.values()].reduce((sum, bytes) => sum + bytes.length, 0);
  return { dir, files, size };
}

async function startedRun(exp: string) {
  await chronicle.createExperiment({ id: exp }).catch(() => {});
  const run = chronicle.run(exp, "v", 0);
  await run.start();
  return run;
}

const api = (path: string, init: RequestInit = {}) =>
  fetch(`${server.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(init.body && { "content-type": "application/json" }) },
  });

/** Every file of a ready asset, through its download URLs. */
async function fetchAll(assetId: string): Promise<Map<string, Buffer>> {
  const plan = (await (await api(`/v1/assets/${assetId}/download`)).json()) as {
    components: { path: string; url: string }[];
  };
  const got = new Map<string, Buffer>();
  for (const c of plan.components) got.set(c.path, Buffer.from(await (await fetch(c.url)).arrayBuffer()));
  return got;
}

interface PlanPiece {
  path: string;
  offset: number;
  size: number;
  url: string;
  headers: Record<string, string>;
}

/** A plan's pieces, single PUTs whole. */
function piecesOf(plan: any, files: Map<string, Buffer>): PlanPiece[] {
  return plan.components.flatMap((c: any) =>
    c.parts
      ? c.parts.map((p: any) => ({
          path: c.path,
          offset: p.offset,
          size: p.size,
          url: p.url,
          headers: p.headers ?? {},
        }))
      : [{ path: c.path, offset: 0, size: files.get(c.path)!.length, url: c.url, headers: c.headers }],
  );
}

test("an upload follows the plan's pages: every byte is sent once, and the directory arrives whole", async () => {
  const run = await startedRun("pages-sdk");
  const { dir, files, size } = await directory();
  const before = server.received.blobBytes;
  const progress: number[] = [];
  const upload = run.uploadDirectoryAsync(dir, { asset_type: "checkpoint", concurrency: 4 });
  upload.on("progress", (p: { bytesSent: number }) => progress.push(p.bytesSent));
  const asset = await upload.done;

  expect(asset).toMatchObject({ state: "ready", size });
  expect(server.received.blobBytes - before).toBe(size);
  expect(progress[0]).toBe(0);
  expect(progress.at(-1)).toBe(size);
  expect(progress).toEqual([...progress].sort((x, y) => x - y));
  const got = await fetchAll(asset.id);
  expect([...got.keys()].sort()).toEqual([...files.keys()].sort());
  for (const [path, bytes] of files) expect(got.get(path)?.equals(bytes), path).toBe(true);
});

test("a tracked upload cut off in its second page resumes with only what is missing", async () => {
  await startedRun("pages-resume");
  const { dir, files, size } = await directory();
  const listed = await listFiles(dir);
  const manifest = await Promise.all(
    listed.map(async (file) => {
      const { sha256, partSha256 } = await hashFile(file.absolute, file.size, PART);
      return { path: file.path, size: file.size, sha256, ...(partSha256 && { part_sha256: partSha256 }) };
    }),
  );
  // What a process that crashed leaves behind: its asset, its tracker, and pieces of two pages that
  // storage holds but nobody reported.
  const created = await api("/v1/experiments/pages-resume/variations/v/runs/0/assets", {
    method: "POST",
    body: JSON.stringify({ asset_type: "checkpoint", part_size: PART, components: manifest }),
  });
  expect(created.status).toBe(201);
  const { asset, upload } = (await created.json()) as { asset: { id: string }; upload: any };
  const tracker = new UploadTracker({ dbPath: join(dir, "..", `${dir.split("/").pop()}.sqlite`) });
  tracker.save({
    baseUrl: chronicle.baseUrl,
    directory: dir,
    experimentId: "pages-resume",
    variation: "v",
    run: 0,
    assetId: asset.id,
    asset: { asset_type: "checkpoint" },
    idempotencyKey: "crashed",
    files: manifest.map(({ part_sha256: _, ...m }, i) => ({ ...m, mtimeMs: listed[i]!.mtimeMs })),
    done: false,
    pieces: [],
  });
  const put = async (piece: PlanPiece) => {
    const body = files.get(piece.path)!.subarray(piece.offset, piece.offset + piece.size);
    // fetch sets the length itself; the rest (S3's checksum) is what the signature binds.
    const { "content-length": _, ...headers } = piece.headers;
    const res = await fetch(piece.url, { method: "PUT", body, headers });
    expect(res.status).toBe(200);
    return piece.size;
  };
  expect(upload.truncated).toBe(true);
  let sent = 0;
  for (const piece of piecesOf(upload, files).slice(0, 3)) sent += await put(piece);
  const second = (await (await api(`/v1/assets/${asset.id}/uploads`, { method: "POST" })).json()) as { upload: any };
  expect(second.upload.truncated).toBe(true);
  sent += await put(piecesOf(second.upload, files)[1]!);

  const before = server.received.blobBytes;
  const resumed = await chronicle
    .run("pages-resume", "v", 0)
    .uploadDirectoryAsync(dir, { asset_type: "checkpoint", uploadTracker: tracker }).done;
  expect(resumed).toMatchObject({ id: asset.id, state: "ready", size });
  expect(server.received.blobBytes - before).toBe(size - sent);
  const got = await fetchAll(asset.id);
  for (const [path, bytes] of files) expect(got.get(path)?.equals(bytes), path).toBe(true);
  expect(tracker.pending()).toEqual([]);
  tracker.close();
});
