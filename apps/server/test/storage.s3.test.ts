import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startS3, type TestS3 } from "../src/testing/index.js";
import { startApp } from "./support/app.js";
import {
  apiFor,
  createFiles,
  downloadAll,
  finalize,
  MiB,
  PART_SIZE,
  pieces,
  startRun,
  upload,
} from "./support/assets.js";
import { TcpProxy } from "./support/tcp-proxy.js";

let s3: TestS3;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3.close());

/** An app on the S3 driver with extra environment; counts the request body bytes it receives. */
async function s3App(env: Record<string, string> = {}) {
  const received = { bytes: 0, blobRequests: 0 };
  const { app, close } = await startApp(
    { METHODIC_PART_SIZE: String(PART_SIZE), ...env },
    {
      storage: "s3",
      s3,
      prepare: (app) =>
        app.addHook("onRequest", async (request) => {
          received.bytes += Number(request.headers["content-length"] ?? 0);
          if (request.url.startsWith("/v1/blobs/")) received.blobRequests += 1;
        }),
    },
  );
  return { api: apiFor(app), received, close };
}

describe("the S3 driver", () => {
  let env: Awaited<ReturnType<typeof s3App>>;
  beforeAll(async () => {
    env = await s3App();
  });
  afterAll(() => env.close());

  test("a checkpoint with a multipart file goes straight to storage, becomes ready and comes back byte-identical", async () => {
    const { api, received } = env;
    expect(api.app.storage.kind).toBe("s3");
    const ref = await startRun(api, "s3-roundtrip");
    const files = [
      { path: "model.safetensors", bytes: randomBytes(12 * MiB + 123) },
      { path: "optimizer/state.bin", bytes: randomBytes(300 * 1024) },
      { path: "config.json", bytes: Buffer.from('{"lr": 0.0003}') },
      { path: "empty", bytes: Buffer.alloc(0) },
    ];
    const before = received.bytes;
    const created = await createFiles(api, ref, files);
    const multipart = created.upload.components.find((c) => c.path === "model.safetensors");
    expect(multipart && "parts" in multipart ? multipart.parts.map((p) => p.size) : []).toEqual([
      PART_SIZE,
      PART_SIZE,
      2 * MiB + 123,
    ]);
    for (const piece of pieces(created.upload, files)) expect(piece.url.startsWith(s3.endpoint)).toBe(true);
    await upload(api, created.upload, files);
    const ready = await finalize(api, created.asset.id);
    expect(ready).toMatchObject({ state: "ready", uploaded_size: ready.size });

    const got = await downloadAll(api, created.asset.id);
    for (const file of files) expect(got.get(file.path)?.equals(file.bytes), file.path).toBe(true);
    // The API saw manifests and part reports, never the ~12.6 MiB of file bytes.
    expect(received.blobRequests).toBe(0);
    expect(received.bytes - before).toBeLessThan(64 * 1024);
  });

  test("a single PUT is bound to its length and SHA-256, which the plan's headers carry", async () => {
    const ref = await startRun(env.api, "s3-checksum");
    const bytes = Buffer.from("exact bytes");
    const { upload: plan } = await createFiles(env.api, ref, [{ path: "a.txt", bytes }]);
    const url = new URL((plan.components[0] as { url: string }).url);
    const signed = url.searchParams.get("X-Amz-SignedHeaders")?.split(";");
    expect(signed).toEqual(expect.arrayContaining(["content-length", "host", "x-amz-checksum-sha256"]));
    expect((plan.components[0] as { headers: Record<string, string> }).headers).toEqual({
      "content-length": String(bytes.length),
      "x-amz-checksum-sha256": createHash("sha256").update(bytes).digest("base64"),
    });
  });
});

test("abort deletes the objects, and a store that lacks AbortMultipartUpload does not stop it", async () => {
  const { api, close } = await s3App();
  try {
    const ref = await startRun(api, "s3-abort");
    const files = [
      { path: "big.bin", bytes: randomBytes(PART_SIZE + 1) },
      { path: "small.bin", bytes: randomBytes(10) },
    ];
    const created = await createFiles(api, ref, files);
    await upload(api, created.upload, files);
    const { endpoint, bucket } = s3;
    // s3rver checks no signatures, so the object can be looked at directly.
    const object = `${endpoint}/${bucket}/assets/${created.asset.id}/1`;
    expect((await fetch(object, { method: "HEAD" })).status).toBe(200);

    const aborted = await api.request({ method: "POST", url: `/v1/assets/${created.asset.id}/abort` });
    expect(aborted.status).toBe(200);
    expect(aborted.body.asset.state).toBe("aborted");
    expect((await fetch(object, { method: "HEAD" })).status).toBe(404);
  } finally {
    await close();
  }
});

test("presigned URLs carry the public endpoint, while the server talks to the other one", async () => {
  const { endpoint } = s3;
  const publicEndpoint = endpoint.replace("127.0.0.1", "localhost");
  const { api, close } = await s3App({ S3_PUBLIC_ENDPOINT: publicEndpoint });
  try {
    const ref = await startRun(api, "s3-public");
    const files = [{ path: "w.bin", bytes: randomBytes(1024) }];
    const created = await createFiles(api, ref, files);
    const url = (created.upload.components[0] as { url: string }).url;
    expect(url.startsWith(`${publicEndpoint}/`)).toBe(true);
    await upload(api, created.upload, files);
    await finalize(api, created.asset.id);
    const got = await downloadAll(api, created.asset.id);
    expect(got.get("w.bin")?.equals(files[0]!.bytes)).toBe(true);
  } finally {
    await close();
  }
});

test("while storage is unreachable the API answers 503, nothing turns ready, and it recovers", async () => {
  const target = new URL(s3.endpoint);
  const proxy = new TcpProxy(target.hostname, Number(target.port));
  await proxy.start();
  const { api, close } = await s3App({ S3_ENDPOINT: `http://127.0.0.1:${proxy.port}` });
  try {
    const ref = await startRun(api, "s3-outage");
    const files = [
      { path: "big.bin", bytes: randomBytes(PART_SIZE + 1) },
      { path: "small.bin", bytes: randomBytes(10) },
    ];
    const created = await createFiles(api, ref, files);
    await upload(api, created.upload, files);

    await proxy.stop();
    const finalizing = await api.request({ method: "POST", url: `/v1/assets/${created.asset.id}/finalize` });
    expect(finalizing.status).toBe(503);
    expect(finalizing.body.error).toMatchObject({
      code: "unavailable",
      message: "Storage is unreachable or failing; try again shortly.",
    });
    const again = await api.request({
      method: "POST",
      url: `${`/v1/experiments/s3-outage/variations/v/runs/0`}/assets`,
      payload: { asset_type: "checkpoint", components: [{ path: "x", size: PART_SIZE + 1, sha256: "0".repeat(64) }] },
    });
    expect(again.status).toBe(503);
    const ready = await api.request({ method: "GET", url: "/readyz" });
    expect(ready.status).toBe(503);
    expect(ready.body.error.details.checks).toEqual({ database: "ok", storage: "unavailable" });
    const still = await api.request({ method: "GET", url: `/v1/assets/${created.asset.id}` });
    expect(still.body.state).toBe("pending");

    await proxy.start();
    expect((await finalize(api, created.asset.id)).state).toBe("ready");
    expect((await api.request({ method: "GET", url: "/readyz" })).status).toBe(200);
  } finally {
    await close();
    await proxy.stop();
  }
});
