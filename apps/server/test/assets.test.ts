import { sql } from "drizzle-orm";
import { ADMIN_TOKEN, describe, expect, storage, test } from "./support/app.js";
import {
  createAsset,
  createFiles,
  createInline,
  endRun,
  ISO_MS,
  MiB,
  manifest,
  runOutputs,
  runPath,
  startRun,
  text,
  UUID,
} from "./support/assets.js";

describe("inline assets", () => {
  test("are ready at once, with their content at /content", async ({ api }) => {
    const ref = await startRun(api, "inline-basic");
    const content = { lr: 0.001, layers: [64, 64], note: "héllo" };
    const res = await createAsset(api, ref, {
      asset_type: "trainer_config",
      name: "config",
      content,
      asset_config: { format: "json" },
    });
    expect(res.status).toBe(201);
    expect(res.body.upload).toBeNull();
    expect(res.body.asset).toEqual({
      id: expect.stringMatching(UUID),
      asset_type: "trainer_config",
      name: "config",
      state: "ready",
      experiment_id: "inline-basic",
      variation: "v",
      run: 0,
      asset_config: { format: "json" },
      inline: true,
      size: Buffer.byteLength(JSON.stringify(content)),
      uploaded_size: Buffer.byteLength(JSON.stringify(content)),
      components: [],
      created_at: expect.stringMatching(ISO_MS),
      finalized_at: expect.stringMatching(ISO_MS),
    });
    const read = await api.request({ method: "GET", url: `/v1/assets/${res.body.asset.id}` });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(res.body.asset);
    expect(read.body).not.toHaveProperty("content");
    const body = await api.request({ method: "GET", url: `/v1/assets/${res.body.asset.id}/content` });
    expect(body.status).toBe(200);
    expect(body.body).toEqual(content);
  });

  test("without name or asset_config get null and {}", async ({ api }) => {
    const ref = await startRun(api, "inline-defaults");
    const asset = await createInline(api, ref, "metrics", { loss: 1 });
    expect(asset.name).toBeNull();
    expect(asset.asset_config).toEqual({});
  });

  test.for([
    ["an array", [1, "two", { three: 3 }]],
    ["a string", "just text"],
    ["a number", 42.5],
    ["a boolean", false],
    ["null", null],
    ["a multi-byte string", "ü€😀"],
  ] as const)("content may be %s, and is answered as that JSON value", async ([label, content], { api }) => {
    const ref = await startRun(api, `inline-kind-${label.replace(/\W/g, "-")}`);
    const asset = await createInline(api, ref, "value", content);
    expect(asset.size).toBe(Buffer.byteLength(JSON.stringify(content)));
    const res = await api.app.inject({
      method: "GET",
      url: `/v1/assets/${asset.id}/content`,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(JSON.parse(res.body)).toEqual(content);
  });

  test("an environment snapshot is an inline asset of type environment", async ({ api }) => {
    const ref = await startRun(api, "inline-env");
    const snapshot = { python: "3.12.1", packages: { torch: "2.3.0", numpy: "1.26.4" }, cuda: null };
    const asset = await createInline(api, ref, "environment", snapshot);
    expect(asset).toMatchObject({ asset_type: "environment", inline: true, state: "ready" });
    const content = await api.request({ method: "GET", url: `/v1/assets/${asset.id}/content` });
    expect(content.body).toEqual(snapshot);
  });

  test("content of exactly 1 MiB serialized is accepted; one byte more is 413 pointing at components", async ({
    api,
  }) => {
    const ref = await startRun(api, "inline-limit");
    const atLimit = "x".repeat(MiB - 2); // plus two quotes
    const ok = await createAsset(api, ref, { asset_type: "blob", content: atLimit });
    expect(ok.status).toBe(201);
    expect(ok.body.asset.size).toBe(MiB);

    const over = await createAsset(api, ref, { asset_type: "blob", content: `${atLimit}x` });
    expect(over.status).toBe(413);
    expect(over.body.error.code).toBe("payload_too_large");
    expect(over.body.error.message).toMatch(/component/i);

    // Multi-byte characters count as bytes: 2 bytes each, so this is over 1 MiB with fewer characters.
    const wide = await createAsset(api, ref, { asset_type: "blob", content: "é".repeat(MiB / 2) });
    expect(wide.status).toBe(413);
    const list = await runOutputs(api, ref);
    expect(list.body.items.map((a: any) => a.id)).toEqual([ok.body.asset.id]);
  });
});

describe("component assets", () => {
  test("are created pending with a plan of one PUT per non-empty file", async ({ api }) => {
    const ref = await startRun(api, "files-basic", "base", 2);
    const files = [text("model/weights.bin", "0123456789"), text("README", "hi"), text("empty.txt", "")];
    const { asset, upload } = await createFiles(api, ref, files, { name: "step-100", asset_config: { step: 100 } });
    expect(asset).toEqual({
      id: expect.stringMatching(UUID),
      asset_type: "checkpoint",
      name: "step-100",
      state: "pending",
      experiment_id: "files-basic",
      variation: "base",
      run: 2,
      asset_config: { step: 100 },
      inline: false,
      size: 12,
      uploaded_size: 0,
      components: expect.arrayContaining(manifest(files)),
      created_at: expect.stringMatching(ISO_MS),
      finalized_at: null,
    });
    expect(asset.components).toHaveLength(3);

    const expires = Date.parse(upload.expires_at);
    expect(upload.expires_at).toMatch(ISO_MS);
    expect(expires).toBeGreaterThan(Date.now() + 3000_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 3600_000 + 1000);
    // The empty file is created at finalize: it is in no plan.
    expect(upload.components.map((c) => c.path).sort()).toEqual(["README", "model/weights.bin"]);
    for (const component of upload.components) {
      expect(component).toEqual({
        path: component.path,
        url:
          storage === "local"
            ? expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/v1\/blobs\/.+\?.+/)
            : expect.stringContaining(`/assets/${asset.id}/`),
        method: "PUT",
        headers: expect.any(Object),
      });
    }
    expect(await api.request({ method: "GET", url: `/v1/assets/${asset.id}` })).toMatchObject({
      status: 200,
      body: asset,
    });
  });

  test("have no inline content: /content is 409 asset_not_inline", async ({ api }) => {
    const ref = await startRun(api, "files-content");
    const { asset } = await createFiles(api, ref, [text("a", "a")]);
    const res = await api.request({ method: "GET", url: `/v1/assets/${asset.id}/content` });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("asset_not_inline");
  });

  test("accept unusual but safe paths, and paths of exactly 1024 bytes", async ({ api }) => {
    const ref = await startRun(api, "files-paths");
    const paths = [
      "a/b/c.txt",
      "dir/.hidden",
      "a..b",
      "...",
      "x/.../y",
      "spaces in name",
      "ünï/cödé",
      "a".repeat(1024),
    ];
    paths.push(`${"é".repeat(511)}ab`); // 1024 bytes
    const res = await createAsset(api, ref, {
      asset_type: "snapshot",
      components: paths.map((path) => ({ path, size: 1, sha256: "0".repeat(64) })),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.asset.components.map((c: any) => c.path).sort()).toEqual([...paths].sort());
  });

  test("accept 10,000 components", async ({ api }) => {
    const ref = await startRun(api, "files-max");
    const components = Array.from({ length: 10_000 }, (_, i) => ({ path: `f/${i}`, size: 0, sha256: "a".repeat(64) }));
    const res = await createAsset(api, ref, { asset_type: "shards", components });
    expect(res.status).toBe(201);
    expect(res.body.asset.components).toHaveLength(10_000);
    expect(res.body.upload.components).toEqual([]);
  });

  test("grow the part size so that no file needs over 10,000 parts, where no part hashes are needed", async ({
    api,
  }) => {
    const ref = await startRun(api, "files-huge");
    const MiB = 1024 * 1024;
    // 700 GiB in 64 MiB parts would be 11,200 parts; at 72 MiB it is 9,956.
    const size = 700 * 1024 * MiB;
    const res = await createAsset(api, ref, {
      asset_type: "checkpoint",
      components: [{ path: "huge.bin", size, sha256: "a".repeat(64) }],
    });
    if (storage === "s3") {
      // S3 binds each part's SHA-256 into its URL: a file in parts needs them, and so the part size.
      expect(res.status).toBe(400);
      expect(res.body.error.details.fields).toEqual([expect.objectContaining({ path: "components.0.part_sha256" })]);
      return;
    }
    expect(res.status).toBe(201);
    const [plan] = res.body.upload.components;
    expect(plan.part_size).toBe(72 * MiB);
    // The first page of its 9,956 parts.
    expect(plan.parts).toHaveLength(1000);
    expect(res.body.upload.truncated).toBe(true);
    plan.parts.forEach((part: { part_number: number; offset: number; size: number }, i: number) => {
      expect(part).toMatchObject({ part_number: i + 1, offset: i * 72 * MiB, size: 72 * MiB });
    });
  });

  test("refuse part sizes and part hashes that S3 could not take, naming the field", async ({ api }) => {
    const ref = await startRun(api, "files-limits");
    const MiB = 1024 * 1024;
    const GiB = 1024 * MiB;
    const hash = "b".repeat(64);
    const refused = async (body: object, path: string, message: RegExp) => {
      const res = await createAsset(api, ref, { asset_type: "checkpoint", ...body });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error.code).toBe("invalid_request");
      expect(res.body.error.details.fields).toEqual([
        expect.objectContaining({ path, message: expect.stringMatching(message) }),
      ]);
    };
    // 10,001 parts of 5 MiB.
    await refused(
      { part_size: 5 * MiB, components: [{ path: "a", size: 10_001 * 5 * MiB, sha256: hash }] },
      "components.0.size",
      /needs 10001 parts of 5242880 bytes, over the limit of 10000: give a larger part_size/,
    );
    // Over 10,000 parts of 5 GiB: more than S3 stores in one object.
    await refused(
      { part_size: 5 * GiB, components: [{ path: "a", size: 10_000 * 5 * GiB + 1, sha256: hash }] },
      "components.0.size",
      /over S3's limit for one file/,
    );
    await refused(
      { part_size: 5 * GiB + 1, components: [{ path: "a", size: 1, sha256: hash }] },
      "part_size",
      /5368709120/,
    );
    await refused({ part_size: 4 * MiB, components: [{ path: "a", size: 1, sha256: hash }] }, "part_size", /5242880/);
    await refused(
      { components: [{ path: "a", size: 20 * MiB, sha256: hash, part_sha256: [hash, hash] }] },
      "part_size",
      /is required with part_sha256/,
    );
    await refused(
      { part_size: 5 * MiB, components: [{ path: "a", size: 5 * MiB, sha256: hash, part_sha256: [hash, hash] }] },
      "components.0.part_sha256",
      /is only for a file larger than part_size/,
    );
  });
});

const sha = "0".repeat(64);
const one = (component: object) => ({
  asset_type: "checkpoint",
  components: [{ path: "a", size: 1, sha256: sha, ...component }],
});

describe("an invalid create is 400 invalid_request naming the field", () => {
  test.for([
    ["an empty path", one({ path: "" }), "components.0.path"],
    ["a leading slash", one({ path: "/etc/passwd" }), "components.0.path"],
    ["a trailing slash", one({ path: "dir/" }), "components.0.path"],
    ["a double slash", one({ path: "a//b" }), "components.0.path"],
    ["a '.' segment", one({ path: "a/./b" }), "components.0.path"],
    ["a '..' segment", one({ path: "a/../../b" }), "components.0.path"],
    ["a bare '..'", one({ path: ".." }), "components.0.path"],
    ["a backslash", one({ path: "a\\b" }), "components.0.path"],
    ["a NUL", one({ path: "a\0b" }), "components.0.path"],
    ["a path of 1025 bytes", one({ path: "a".repeat(1025) }), "components.0.path"],
    ["a path of 513 two-byte characters", one({ path: "é".repeat(513) }), "components.0.path"],
    ["an uppercase sha256", one({ sha256: "A".repeat(64) }), "components.0.sha256"],
    ["a short sha256", one({ sha256: "a".repeat(63) }), "components.0.sha256"],
    ["a negative size", one({ size: -1 }), "components.0.size"],
    ["a fractional size", one({ size: 1.5 }), "components.0.size"],
    ["a size given as a string", one({ size: "1" }), "components.0.size"],
    ["an unknown component field", one({ mode: 420 }), "components.0.mode"],
    ["no components", { asset_type: "checkpoint", components: [] }, "components"],
    [
      "a duplicate path",
      {
        asset_type: "checkpoint",
        components: [
          { path: "a", size: 1, sha256: sha },
          { path: "a", size: 2, sha256: sha },
        ],
      },
      "components.1.path",
    ],
    ["an uppercase asset_type", { asset_type: "Checkpoint", content: 1 }, "asset_type"],
    ["an asset_type starting with a digit", { asset_type: "1ckpt", content: 1 }, "asset_type"],
    ["an asset_type of 65 characters", { asset_type: `a${"b".repeat(64)}`, content: 1 }, "asset_type"],
    ["an asset_type with a slash", { asset_type: "a/b", content: 1 }, "asset_type"],
    ["an unknown field", { asset_type: "x", content: 1, owner: "me" }, "owner"],
    ["an asset_config that is an array", { asset_type: "x", content: 1, asset_config: [1] }, "asset_config"],
  ] as const)("%s", async ([label, payload, field], { api }) => {
    const ref = await startRun(api, "invalid-create", "v", 0);
    const res = await createAsset(api, ref, payload);
    expect(res.status, label).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
    const paths = res.body.error.details.fields.map((f: any) => f.path);
    expect(paths, label).toContain(field);
  });

  test.for([
    ["both content and components", { asset_type: "x", content: 1, components: [{ path: "a", size: 1, sha256: sha }] }],
    ["neither content nor components", { asset_type: "x" }],
    ["no asset_type", { content: 1 }],
    ["a body that is not an object", [1, 2]],
  ] as const)("%s", async ([, payload], { api }) => {
    const ref = await startRun(api, "invalid-shape");
    const res = await createAsset(api, ref, payload);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
    expect(res.body.error.details.fields.length).toBeGreaterThan(0);
  });

  test("over 10,000 components", async ({ api }) => {
    const ref = await startRun(api, "invalid-too-many");
    const components = Array.from({ length: 10_001 }, (_, i) => ({ path: `f${i}`, size: 0, sha256: sha }));
    const res = await createAsset(api, ref, { asset_type: "shards", components });
    expect(res.status).toBe(400);
    expect(res.body.error.details.fields.map((f: any) => f.path)).toContain("components");
  });

  test("and nothing is created by any of them", async ({ api }) => {
    const ref = await startRun(api, "invalid-nothing");
    await createAsset(api, ref, one({ path: "../x" }));
    await createAsset(api, ref, { asset_type: "x" });
    const list = await runOutputs(api, ref);
    expect(list.status).toBe(200);
    expect(list.body.items).toEqual([]);
  });
});

describe("the run of a new asset", () => {
  test("must exist: 404 with the missing level", async ({ api }) => {
    await startRun(api, "parent-exp", "v", 0);
    const payload = { asset_type: "x", content: 1 };
    const cases = [
      [{ exp: "parent-ghost", variation: "v", run: 0 }, "experiment_not_found"],
      [{ exp: "parent-exp", variation: "ghost", run: 0 }, "variation_not_found"],
      [{ exp: "parent-exp", variation: "v", run: 1 }, "run_not_found"],
    ] as const;
    for (const [ref, code] of cases) {
      const res = await createAsset(api, ref, payload);
      expect(res.status, code).toBe(404);
      expect(res.body.error.code).toBe(code);
    }
  });

  test.for(["succeed", "fail"] as const)("must not have ended (%s): 409 run_finished", async (how, { api }) => {
    const ref = await startRun(api, `parent-${how}`);
    await endRun(api, ref, how);
    for (const payload of [{ asset_type: "x", content: 1 }, one({})]) {
      const res = await createAsset(api, ref, payload);
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe("run_finished");
    }
    expect((await runOutputs(api, ref)).body.items).toEqual([]);
  });

  test("may be lost", async ({ api }) => {
    const ref = await startRun(api, "parent-lost");
    await api.app.db.execute(sql`update runs set state = 'lost' where experiment_id = 'parent-lost'`);
    expect((await api.request({ method: "GET", url: runPath(ref) })).body.state).toBe("lost");
    const res = await createAsset(api, ref, { asset_type: "x", content: { ok: true } });
    expect(res.status).toBe(201);
    expect(res.body.asset.state).toBe("ready");
  });
});

describe("reading an asset", () => {
  test("of an unknown id is 404 asset_not_found; a malformed id is 400", async ({ api }) => {
    for (const suffix of ["", "/content", "/download"]) {
      const missing = await api.request({
        method: "GET",
        url: `/v1/assets/0190f2a4-1b2c-7d3e-8f40-123456789abc${suffix}`,
      });
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe("asset_not_found");
      const bad = await api.request({ method: "GET", url: `/v1/assets/not-a-uuid${suffix}` });
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe("invalid_request");
    }
    for (const action of ["finalize", "abort", "uploads"]) {
      const res = await api.request({
        method: "POST",
        url: `/v1/assets/0190f2a4-1b2c-7d3e-8f40-123456789abc/${action}`,
      });
      expect(res.status, action).toBe(404);
      expect(res.body.error.code).toBe("asset_not_found");
    }
  });

  test("needs a token; a read token may read", async ({ api }) => {
    const ref = await startRun(api, "read-auth");
    const asset = await createInline(api, ref, "x", { a: 1 });
    expect((await api.request({ method: "GET", url: `/v1/assets/${asset.id}`, token: null })).status).toBe(401);
    const reader = await api.request({ method: "POST", url: "/v1/tokens", payload: { name: "reader", scope: "read" } });
    const read = await api.request({ method: "GET", url: `/v1/assets/${asset.id}/content`, token: reader.body.token });
    expect(read.status).toBe(200);
    expect(read.body).toEqual({ a: 1 });
    const write = await createAsset(
      api,
      ref,
      { asset_type: "x", content: 1 },
      {
        authorization: `Bearer ${reader.body.token}`,
      },
    );
    expect(write.status).toBe(403);
  });
});
