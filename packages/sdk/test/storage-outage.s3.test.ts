import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ADMIN_TOKEN,
  type RestartableMinio,
  startRestartableMinio,
  startS3,
  startServer,
  type TestS3,
  type TestServer,
} from "@methodic/server/testing";
import { afterAll, beforeAll, expect, test } from "vitest";
import { Chronicle, UnavailableError } from "../src/index.js";
import { UploadTracker } from "../src/upload-tracker.js";

const MiB = 1024 * 1024;
const STORAGE_DOWN = "Storage is unreachable or failing; try again shortly.";

// A MinIO of this file's own, so that taking it away disturbs no other test.
let minio: RestartableMinio;
let s3: TestS3;
let server: TestServer;
let scratch: string;

beforeAll(async () => {
  minio = await startRestartableMinio();
  s3 = await startS3(minio);
  server = await startServer({ storage: "s3", s3 });
  scratch = await mkdtemp(join(tmpdir(), "methodic-storage-outage-"));
});

afterAll(async () => {
  await server?.close();
  await s3?.close();
  await minio?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** A request with the admin token: status and body. */
async function api(method: string, path: string, body?: object) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body && { "content-type": "application/json" }) },
    ...(body && { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(120_000),
  });
  return { status: res.status, body: (await res.json()) as any, requestId: res.headers.get("x-request-id") };
}

test("storage gone in the middle of an upload: 503 where storage is needed, nothing ready, and the same asset resumes to ready, byte for byte, once it is back", {
  timeout: 300_000,
}, async () => {
  const chronicle = new Chronicle({ baseUrl: server.url, token: ADMIN_TOKEN, partSize: 5 * MiB });
  await chronicle.createExperiment({ id: "outage" });
  const run = chronicle.run("outage", "v", 0);
  await run.start();
  const dir = join(scratch, "checkpoint");
  const files = new Map([
    ["model.bin", randomBytes(30 * MiB + 5)],
    ["tokenizer/vocab.json", randomBytes(3000)],
  ]);
  for (const [path, bytes] of files) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
  const tracker = new UploadTracker({ dbPath: join(scratch, "uploads.sqlite") });

  // Storage dies (SIGKILL) once a third of the bytes went up, with pieces in flight.
  let stopped: Promise<void> | undefined;
  const upload = run.uploadDirectoryAsync(dir, { asset_type: "checkpoint", uploadTracker: tracker, concurrency: 2 });
  upload.on("progress", ({ bytesSent }: { bytesSent: number }) => {
    if (bytesSent >= 10 * MiB) stopped ??= minio.stop();
  });
  // The SDK retries, then gives up while storage stays away.
  const failure = await upload.done.then(
    () => undefined,
    (err: unknown) => err,
  );
  await stopped;
  expect(failure).toBeInstanceOf(UnavailableError);
  const id = upload.assetId!;
  expect(tracker.pending().map((u) => u.assetId)).toEqual([id]);

  // Meanwhile: what needs storage says so, as a 503 with the error body; the asset stays pending.
  for (const [method, path, body] of [
    ["POST", `/v1/assets/${id}/uploads`, undefined],
    ["POST", `/v1/assets/${id}/finalize`, undefined],
    // A create whose file goes up in parts starts a multipart upload in storage.
    [
      "POST",
      "/v1/experiments/outage/variations/v/runs/0/assets",
      {
        asset_type: "checkpoint",
        part_size: 5 * MiB,
        components: [
          { path: "big.bin", size: 6 * MiB, sha256: "a".repeat(64), part_sha256: ["b".repeat(64), "c".repeat(64)] },
        ],
      },
    ],
  ] as const) {
    const res = await api(method, path, body);
    expect(res, `${method} ${path}`).toEqual({
      status: 503,
      body: { error: { code: "unavailable", message: STORAGE_DOWN, request_id: res.requestId } },
      requestId: res.requestId,
    });
  }
  const readyz = await api("GET", "/readyz");
  expect(readyz.status).toBe(503);
  expect(readyz.body.error.details.checks).toEqual({ database: "ok", storage: "unavailable" });
  expect((await chronicle.getAsset(id)).state).toBe("pending");

  // Storage back: the same directory, run and tracker pick the same asset up and finish it.
  await minio.start();
  const resumed = await run.uploadDirectoryAsync(dir, { asset_type: "checkpoint", uploadTracker: tracker }).done;
  expect(resumed.id).toBe(id);
  expect(resumed.state).toBe("ready");
  expect(tracker.pending()).toEqual([]);
  const target = join(scratch, "downloaded");
  await chronicle.downloadAsset(id, target);
  for (const [path, bytes] of files) expect((await readFile(join(target, path))).equals(bytes), path).toBe(true);
  tracker.close();
});
