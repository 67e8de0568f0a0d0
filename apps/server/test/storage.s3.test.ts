import { createHash, randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { spawnProcess, startS3, startServer, type TestS3 } from "../src/testing/index.js";
import { startApp } from "./support/app.js";
import {
  apiFor,
  assetCall,
  createAsset,
  createFiles,
  downloadAll,
  filesBody,
  finalize,
  MiB,
  PART_SIZE,
  partHashes,
  pieces,
  put,
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

/** The keys of the test bucket's objects and its unfinished multipart uploads of an asset. */
async function stored(assetId: string) {
  const prefix = `assets/${assetId}/`;
  const objects = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
  const keys = (objects.Contents ?? []).map((o) => o.Key);
  // MinIO lists the multipart uploads of one key at a time.
  let uploads = 0;
  for (const index of [0, 1, 2, 3]) {
    const listed = await s3.client.send(
      new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: `${prefix}${index}` }),
    );
    uploads += (listed.Uploads ?? []).length;
  }
  return { keys, uploads };
}

describe("the S3 driver on MinIO", () => {
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
    for (const piece of pieces(created.upload, files)) expect(piece.url.startsWith(s3.publicEndpoint)).toBe(true);
    await upload(api, created.upload, files);
    const ready = await finalize(api, created.asset.id);
    expect(ready).toMatchObject({ state: "ready", uploaded_size: ready.size });

    const got = await downloadAll(api, created.asset.id);
    for (const file of files) expect(got.get(file.path)?.equals(file.bytes), file.path).toBe(true);
    // The API saw manifests and part reports, never the ~12.6 MiB of file bytes.
    expect(received.blobRequests).toBe(0);
    expect(received.bytes - before).toBeLessThan(64 * 1024);
    // Storage keeps the checksum it checked: the composite of the parts' SHA-256 digests.
    const head = await s3.client.send(
      new HeadObjectCommand({ Bucket: s3.bucket, Key: `assets/${created.asset.id}/0`, ChecksumMode: "ENABLED" }),
    );
    expect(head.ChecksumSHA256).toMatch(/-3$/);
  });

  test("every PUT is bound to its length and SHA-256, which the plan's headers carry", async () => {
    const ref = await startRun(env.api, "s3-checksum");
    const small = Buffer.from("exact bytes");
    const big = randomBytes(PART_SIZE + 10);
    const files = [
      { path: "a.txt", bytes: small },
      { path: "big.bin", bytes: big },
    ];
    const { upload: plan } = await createFiles(env.api, ref, files);
    const b64 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("base64");
    for (const piece of pieces(plan, files)) {
      const signed = new URL(piece.url).searchParams.get("X-Amz-SignedHeaders")?.split(";");
      expect(signed).toEqual(expect.arrayContaining(["content-length", "host", "x-amz-checksum-sha256"]));
      const bytes = (piece.path === "a.txt" ? small : big).subarray(piece.offset, piece.offset + piece.size);
      expect(piece.headers).toEqual({ "content-length": String(piece.size), "x-amz-checksum-sha256": b64(bytes) });
    }
  });

  test("a part with wrong bytes of the right length is refused by storage and never becomes ready", async () => {
    const { api } = env;
    const ref = await startRun(api, "s3-wrong-part");
    const files = [{ path: "model.bin", bytes: randomBytes(PART_SIZE + 4096) }];
    const created = await createFiles(api, ref, files);
    const [first, second] = pieces(created.upload, files);
    const wrong = Buffer.from(files[0]!.bytes.subarray(first!.offset, first!.offset + first!.size));
    wrong[17]! ^= 0xff;
    const refused = await put(api, first!.url, wrong, first!.headers);
    expect(refused.status).toBe(400);
    expect(refused.text).toContain("Checksum");
    // Report an ETag for it anyway, and send the other part right: finalize still finds it missing.
    await assetCall(api, created.asset.id, "parts", { parts: [{ path: "model.bin", part_number: 1, etag: '"x"' }] });
    const good = await put(api, second!.url, files[0]!.bytes.subarray(second!.offset), second!.headers);
    expect(good.status).toBe(200);
    await assetCall(api, created.asset.id, "parts", {
      parts: [{ path: "model.bin", part_number: 2, etag: good.headers.etag as string }],
    });
    const finalizing = await assetCall(api, created.asset.id, "finalize");
    expect(finalizing.status).toBe(409);
    expect(finalizing.body.error.code).toBe("asset_incomplete");
    expect(finalizing.body.error.details.missing).toEqual([{ path: "model.bin", part_numbers: [1, 2] }]);
    expect((await api.request({ method: "GET", url: `/v1/assets/${created.asset.id}` })).body.state).toBe("pending");
  });

  test("a presigned URL with its signature, expiry or length tampered with is 403", async () => {
    const { api } = env;
    const ref = await startRun(api, "s3-tamper");
    const files = [{ path: "w.bin", bytes: randomBytes(2048) }];
    const created = await createFiles(api, ref, files);
    const [piece] = pieces(created.upload, files);
    const bytes = files[0]!.bytes;
    const tampered = (name: string, value: string) => {
      const url = new URL(piece!.url);
      url.searchParams.set(name, value);
      return url.toString();
    };
    for (const [what, url] of [
      ["signature", tampered("X-Amz-Signature", "0".repeat(64))],
      ["expiry", tampered("X-Amz-Expires", "604800")],
      ["date", tampered("X-Amz-Date", "20200101T000000Z")],
    ] as const) {
      expect((await put(api, url, bytes, piece!.headers)).status, what).toBe(403);
    }
    const shorter = await put(api, piece!.url, bytes.subarray(1), { ...piece!.headers, "content-length": "2047" });
    expect(shorter.status, "length").toBe(403);
    expect((await put(api, piece!.url, bytes, piece!.headers)).status).toBe(200);
  });

  test("/uploads adds the parts storage lists with the right checksum, so a part sent but not reported is not sent again", async () => {
    const { api } = env;
    const ref = await startRun(api, "s3-listparts");
    const files = [{ path: "model.bin", bytes: randomBytes(2 * PART_SIZE + 1) }];
    const created = await createFiles(api, ref, files);
    const [first] = pieces(created.upload, files);
    // Sent, then the client died before it reported the part.
    expect((await put(api, first!.url, files[0]!.bytes.subarray(0, PART_SIZE), first!.headers)).status).toBe(200);
    const replan = await assetCall(api, created.asset.id, "uploads");
    expect(replan.body.upload.components[0].parts.map((p: { part_number: number }) => p.part_number)).toEqual([2, 3]);
    expect((await api.request({ method: "GET", url: `/v1/assets/${created.asset.id}` })).body.uploaded_size).toBe(
      PART_SIZE,
    );
    await upload(api, replan.body.upload, files);
    expect((await finalize(api, created.asset.id)).state).toBe("ready");
  });
});

describe("what S3 keeps of an asset", () => {
  test("abort and the sweeper abort its multipart uploads and delete its objects", async () => {
    const { api, close } = await s3App({ METHODIC_PENDING_ASSET_TTL_S: "60", METHODIC_REAPER_INTERVAL_S: "1" });
    try {
      const ref = await startRun(api, "s3-abort");
      const files = [
        { path: "big.bin", bytes: randomBytes(PART_SIZE + 1) },
        { path: "small.bin", bytes: randomBytes(10) },
      ];
      const aborted = await createFiles(api, ref, files);
      const abandoned = await createFiles(api, ref, files);
      for (const created of [aborted, abandoned]) {
        const [part] = pieces(created.upload, files).filter((p) => p.path === "big.bin");
        await put(api, part!.url, files[0]!.bytes.subarray(0, PART_SIZE), part!.headers);
        const [single] = pieces(created.upload, files).filter((p) => p.path === "small.bin");
        await put(api, single!.url, files[1]!.bytes, single!.headers);
        expect(await stored(created.asset.id)).toEqual({ keys: [`assets/${created.asset.id}/1`], uploads: 1 });
      }

      expect((await assetCall(api, aborted.asset.id, "abort")).body.asset.state).toBe("aborted");
      expect(await stored(aborted.asset.id)).toEqual({ keys: [], uploads: 0 });

      await api.app.db.execute(
        sql`update assets set created_at = now() - interval '2 minutes' where id = ${abandoned.asset.id}`,
      );
      // The sweeper turns the asset aborted, then cleans storage up: wait for both.
      const swept = async () => ({
        state: (await api.request({ method: "GET", url: `/v1/assets/${abandoned.asset.id}` })).body.state,
        ...(await stored(abandoned.asset.id)),
      });
      const cleaned = { state: "aborted", keys: [], uploads: 0 };
      let seen = await swept();
      for (let i = 0; i < 100 && JSON.stringify(seen) !== JSON.stringify(cleaned); i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        seen = await swept();
      }
      expect(seen).toEqual(cleaned);
    } finally {
      await close();
    }
  });

  test("a create whose row cannot be written leaves no multipart upload behind", async () => {
    // The server's own calls go through the counting proxy too, so every storage request is seen.
    const { api, close } = await s3App({ S3_ENDPOINT: s3.publicEndpoint });
    try {
      const ref = await startRun(api, "s3-create-fails");
      // The database refuses the asset's row, after storage has started its multipart uploads.
      await api.app.db.execute(sql`
        create function refuse_asset() returns trigger language plpgsql as $$
        begin raise exception 'refused for the test'; end $$`);
      await api.app.db.execute(
        sql`create trigger refuse_asset before insert on assets for each row execute function refuse_asset()`,
      );
      const seen = s3.requests.length;
      const files = [
        { path: "a.bin", bytes: randomBytes(PART_SIZE + 1) },
        { path: "b.bin", bytes: randomBytes(PART_SIZE + 2) },
      ];
      expect((await createAsset(api, ref, filesBody(files))).status).toBe(500);
      await api.app.db.execute(sql`drop trigger refuse_asset on assets`);

      const calls = s3.requests.slice(seen);
      const keyOf = (url: string) => new URL(url, "http://s3").pathname;
      const started = calls.filter((r) => r.method === "POST" && /[?&]uploads/.test(r.url)).map((r) => keyOf(r.url));
      const aborted = calls
        .filter((r) => r.method === "DELETE" && /[?&]uploadId=/.test(r.url))
        .map((r) => keyOf(r.url));
      expect(started).toHaveLength(2);
      expect(aborted.sort()).toEqual(started.sort());
      for (const key of started) {
        const listed = await s3.client.send(
          new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: key.replace(`/${s3.bucket}/`, "") }),
        );
        expect(listed.Uploads ?? []).toEqual([]);
      }
    } finally {
      await close();
    }
  });
});

test("presigned URLs carry the public endpoint, while the server talks to the other one", async () => {
  const publicEndpoint = s3.publicEndpoint.replace("127.0.0.1", "localhost");
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
    const big = randomBytes(PART_SIZE + 1);
    const again = await createAsset(api, ref, filesBody([{ path: "x", bytes: big }]));
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

test("a part hash list must match the part size", async () => {
  const { api, close } = await s3App();
  try {
    const ref = await startRun(api, "s3-hash-list");
    const bytes = randomBytes(PART_SIZE + 1);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const component = { path: "big.bin", size: bytes.length, sha256 };
    const missing = await createAsset(api, ref, { asset_type: "checkpoint", components: [component] });
    expect(missing.status).toBe(400);
    expect(missing.body.error.details.fields).toEqual([
      expect.objectContaining({ in: "body", path: "components.0.part_sha256" }),
    ]);
    const wrongCount = await createAsset(api, ref, {
      asset_type: "checkpoint",
      part_size: PART_SIZE,
      components: [{ ...component, part_sha256: [...partHashes(bytes, PART_SIZE), sha256] }],
    });
    expect(wrongCount.status).toBe(400);
    expect(wrongCount.body.error.message).toMatch(/has 3 hashes; the file has 2 parts/);
  } finally {
    await close();
  }
});

test("the README's curl checkpoint example runs on S3 as it does on the local disk", async () => {
  // Plans of 2 pieces: the script follows their pages.
  const server = await startServer({ storage: "s3", s3, env: { METHODIC_PLAN_MAX_PIECES: "2" } });
  try {
    const script = fileURLToPath(new URL("../../../examples/checkpoint-with-curl.sh", import.meta.url));
    const curl = spawnProcess("bash", [script], {
      env: {
        PATH: process.env.PATH,
        METHODIC_URL: server.url,
        METHODIC_TOKEN: server.token,
        BIG_MIB: "12",
        PART_MIB: "5",
      },
    });
    expect((await curl.exit).code, curl.output()).toBe(0);
    expect(curl.stdout()).toMatch(/finalized [0-9a-f-]{36}: ready, 12587037 bytes/);
    expect(curl.stdout()).toMatch(/restored [0-9a-f-]{36}: byte-identical/);
  } finally {
    await server.close();
  }
});

test("setupBucket creates a missing bucket, once, and says what the store could not take", async () => {
  const { setupBucket } = await import("../src/storage/s3-setup.js");
  const config = {
    bucket: `methodic-setup-${Date.now()}`,
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    publicEndpoint: undefined,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  };
  const setup = { publicOrigin: "http://127.0.0.1:8080", abortIncompleteAfterDays: 7 };
  const first = await setupBucket(config, setup);
  expect(first[0]).toBe(`bucket ${config.bucket} created`);
  // MinIO keeps stale-upload expiry and CORS in its own settings, not in these APIs.
  expect(first.slice(1)).toEqual([
    expect.stringMatching(/lifecycle rules|aborted after 7 day/),
    expect.stringMatching(/CORS/),
  ]);
  expect((await setupBucket(config, setup))[0]).toBe(`bucket ${config.bucket} exists`);
});
