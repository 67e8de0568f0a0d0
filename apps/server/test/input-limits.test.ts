import { JSON_FIELD_MAX_BYTES } from "@methodic/contract";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type Api, startApp } from "./support/app.js";
import { sha256, startRun } from "./support/assets.js";

/**
 * What api.md's Limits section promises about input: every refusal is a 4xx with the error body,
 * never a 500. Each table covers every route that takes such a field.
 */

const NUL = "a\u0000b";
/** Lone surrogates cannot be written in a JS string that JSON.stringify keeps: they go in as escapes. */
const LONE_SURROGATES = ['"a\\ud800"', '"\\udc00b"', '"\\ud800\\ud800"'];

const exp = "limits";
const run = `/v1/experiments/${exp}/variations/v/runs/0`;
let assetId: string;

interface BodyCase {
  name: string;
  method: "POST" | "PATCH" | "PUT";
  url: () => string;
  /** The body with `bad` (JSON text of a string) where the field's text goes, and that field's path. */
  body: (bad: string) => string;
  path: string;
}

const j = (value: unknown) => JSON.stringify(value);

const textFields: BodyCase[] = [
  {
    name: "experiment name",
    method: "POST",
    url: () => "/v1/experiments",
    body: (b) => `{"id":"t1","name":${b}}`,
    path: "name",
  },
  {
    name: "experiment description",
    method: "PATCH",
    url: () => `/v1/experiments/${exp}`,
    body: (b) => `{"description":${b}}`,
    path: "description",
  },
  {
    name: "W&B project",
    method: "POST",
    url: () => "/v1/experiments",
    body: (b) => `{"id":"t2","wandb_project":${b}}`,
    path: "wandb_project",
  },
  {
    name: "variation description",
    method: "PUT",
    url: () => `/v1/experiments/${exp}/variations/v`,
    body: (b) => `{"description":${b}}`,
    path: "description",
  },
  {
    name: "W&B run id",
    method: "POST",
    url: () => `${run}/start`,
    body: (b) => `{"wandb_run_id":${b}}`,
    path: "wandb_run_id",
  },
  {
    name: "dashboard URL",
    method: "POST",
    url: () => `${run}/start`,
    body: (b) => `{"wandb_dashboard_url":${b.replace(/^"/, '"https://wandb.ai/')}}`,
    path: "wandb_dashboard_url",
  },
  { name: "failure message", method: "POST", url: () => `${run}/fail`, body: (b) => `{"error":${b}}`, path: "error" },
  {
    name: "asset name",
    method: "POST",
    url: () => `${run}/assets`,
    body: (b) => `{"asset_type":"note","name":${b},"content":1}`,
    path: "name",
  },
  {
    name: "component path",
    method: "POST",
    url: () => `${run}/assets`,
    body: (b) => `{"asset_type":"ckpt","components":[{"path":${b},"size":1,"sha256":"${"0".repeat(64)}"}]}`,
    path: "components.0.path",
  },
  {
    name: "part ETag",
    method: "POST",
    url: () => `/v1/assets/${assetId}/parts`,
    body: (b) => `{"parts":[{"path":"a.bin","etag":${b}}]}`,
    path: "parts.0.etag",
  },
  {
    name: "token name",
    method: "POST",
    url: () => "/v1/tokens",
    body: (b) => `{"name":${b},"scope":"read"}`,
    path: "name",
  },
  // Strings inside JSON values, as values and as keys.
  {
    name: "string in a config",
    method: "POST",
    url: () => "/v1/experiments",
    body: (b) => `{"id":"t3","config":{"k":[1,{"deep":${b}}]}}`,
    path: "config.k.1.deep",
  },
  {
    name: "key in a summary",
    method: "POST",
    url: () => `${run}/succeed`,
    body: (b) => `{"summary":{${b}:1}}`,
    path: "summary",
  },
  {
    name: "string in fail details",
    method: "POST",
    url: () => `${run}/fail`,
    body: (b) => `{"details":{"trace":${b}}}`,
    path: "details.trace",
  },
  {
    name: "string in an asset config",
    method: "POST",
    url: () => `${run}/assets`,
    body: (b) => `{"asset_type":"note","asset_config":{"x":${b}},"content":1}`,
    path: "asset_config.x",
  },
  {
    name: "string in inline content",
    method: "POST",
    url: () => `${run}/assets`,
    body: (b) => `{"asset_type":"note","content":[${b}]}`,
    path: "content.0",
  },
];

let api: Api;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ api, close } = await startApp());
  await startRun(api, exp);
  const created = await api.request({
    method: "POST",
    url: `${run}/assets`,
    payload: { asset_type: "ckpt", components: [{ path: "a.bin", size: 1, sha256: sha256(Buffer.from("a")) }] },
  });
  expect(created.status).toBe(201);
  assetId = created.body.asset.id;
});

afterAll(() => close());

const sendJson = (method: string, url: string, payload: string) =>
  api.request({ method: method as "POST", url, headers: { "content-type": "application/json" }, payload });

function expectRefused(res: { status: number; body: any }, path: string, code = "invalid_request") {
  expect(res.status, JSON.stringify(res.body).slice(0, 500)).toBe(code === "invalid_request" ? 400 : 413);
  expect(res.body.error.code).toBe(code);
  expect(res.body.error.request_id).toMatch(/^req_/);
  expect(res.body.error.details.fields.map((field: any) => field.path)).toContain(path);
}

describe("text fields and strings in JSON values", () => {
  test.for(textFields)("NUL in the $name is 400 naming the field", async (c) => {
    expectRefused(await sendJson(c.method, c.url(), c.body(j(NUL))), c.path);
  });

  test.for(textFields)("unpaired surrogates in the $name are 400 naming the field", async (c) => {
    for (const bad of LONE_SURROGATES) expectRefused(await sendJson(c.method, c.url(), c.body(bad)), c.path);
  });

  test("a surrogate pair is text: an emoji comes back as it was sent", async () => {
    const res = await api.request({
      method: "POST",
      url: "/v1/experiments",
      payload: { id: "emoji", name: "fit 🚀", config: { "🔑": "é\u{1F600}" } },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: "fit 🚀", config: { "🔑": "é\u{1F600}" } });
  });

  test("NUL in a path parameter or a query is 400", async () => {
    for (const url of [
      `/v1/experiments/a%00b`,
      `/v1/experiments/${exp}/runs?variation=a%00`,
      "/v1/experiments?cursor=a%00",
    ]) {
      const res = await api.request({ method: "GET", url });
      expect(res.status, url).toBe(400);
      expect(res.body.error.code).toBe("invalid_request");
    }
  });
});

/** A JSON object of exactly `bytes` bytes serialized. */
const objectOf = (bytes: number) => ({ k: "x".repeat(bytes - j({ k: "" }).length) });

describe("JSON fields are at most 1 MiB serialized", () => {
  const over = objectOf(JSON_FIELD_MAX_BYTES + 1);
  const fields: { name: string; method: string; url: () => string; body: object; path: string }[] = [
    {
      name: "an experiment's config",
      method: "POST",
      url: () => "/v1/experiments",
      body: { id: "big", config: over },
      path: "config",
    },
    {
      name: "a config update",
      method: "PATCH",
      url: () => `/v1/experiments/${exp}`,
      body: { config: over },
      path: "config",
    },
    {
      name: "a variation's config",
      method: "PUT",
      url: () => `/v1/experiments/${exp}/variations/v`,
      body: { config: over },
      path: "config",
    },
    {
      name: "an asset's asset_config",
      method: "POST",
      url: () => `${run}/assets`,
      body: { asset_type: "note", asset_config: over, content: 1 },
      path: "asset_config",
    },
    { name: "a run's summary", method: "POST", url: () => `${run}/succeed`, body: { summary: over }, path: "summary" },
    { name: "a failure's details", method: "POST", url: () => `${run}/fail`, body: { details: over }, path: "details" },
  ];

  test.for(fields)("one byte over in $name is 413 payload_too_large naming it", async (c) => {
    const res = await sendJson(c.method, c.url(), j(c.body));
    expectRefused(res, c.path, "payload_too_large");
    expect(res.body.error.message).toContain(`body.${c.path} is ${JSON_FIELD_MAX_BYTES + 1} bytes serialized`);
  });

  test("exactly 1 MiB is stored and listed", async () => {
    const config = objectOf(JSON_FIELD_MAX_BYTES);
    expect(Buffer.byteLength(j(config))).toBe(JSON_FIELD_MAX_BYTES);
    const res = await api.request({ method: "POST", url: "/v1/experiments", payload: { id: "at-limit", config } });
    expect(res.status).toBe(201);
    const ended = await api.request({ method: "POST", url: `/v1/experiments/${exp}/variations/w/runs/0/start` });
    expect(ended.status).toBe(200);
    const summary = await api.request({
      method: "POST",
      url: `/v1/experiments/${exp}/variations/w/runs/0/succeed`,
      payload: { summary: config },
    });
    expect(summary.status).toBe(200);
    expect(summary.body.summary).toEqual(config);
  });
});

/** `levels` arrays, one inside the next, around a 1. */
const nested = (levels: number) => `${"[".repeat(levels)}1${"]".repeat(levels)}`;

describe("JSON bodies nest at most 64 deep", () => {
  test("a config nested 10,000 deep is 400, not a crash", async () => {
    const res = await sendJson("POST", "/v1/experiments", `{"id":"deep","config":{"a":${nested(10_000)}}}`);
    expectRefused(res, "");
    expect(res.body.error.message).toContain("deeper than 64 levels");
  });

  test("a body nested 1,000,000 deep is refused before anything parses it", async () => {
    const res = await sendJson("POST", "/v1/experiments", nested(1_000_000));
    expectRefused(res, "");
  });

  test("64 levels with the body as the first are read; 65 are refused", async () => {
    // The body, then `config`, then 62 more levels.
    const ok = await sendJson("POST", "/v1/experiments", `{"id":"deep-64","config":{"a":${nested(62)}}}`);
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    const refused = await sendJson("POST", "/v1/experiments", `{"id":"deep-65","config":{"a":${nested(63)}}}`);
    expectRefused(refused, "");
  });

  test("brackets inside strings do not count as nesting", async () => {
    const res = await api.request({
      method: "POST",
      url: "/v1/experiments",
      payload: { id: "brackets", description: "[{".repeat(1000), config: { '\\"[': "]\\" } },
    });
    expect(res.status).toBe(201);
  });
});

describe("bodies", () => {
  test("a body of null is 400, on a route whose body is optional too; no body at all is read", async () => {
    for (const url of [`/v1/experiments/${exp}/variations/nulls`, "/v1/experiments"]) {
      const method = url.endsWith("nulls") ? "PUT" : "POST";
      expectRefused(await sendJson(method, url, "null"), "");
    }
    const none = await api.request({ method: "PUT", url: `/v1/experiments/${exp}/variations/nulls` });
    expect(none.status).toBe(201);
  });
});

describe("sizes stay within 2^53 - 1", () => {
  const component = (path: string, size: number) => ({ path, size, sha256: "0".repeat(64) });

  test("a manifest whose sizes add up past 2^53 - 1 is 400", async () => {
    const res = await api.request({
      method: "POST",
      url: `${run}/assets`,
      payload: { asset_type: "ckpt", components: [component("a", Number.MAX_SAFE_INTEGER), component("b", 1)] },
    });
    expectRefused(res, "components");
  });

  test("a size past 2^53 - 1 is 400", async () => {
    const res = await sendJson(
      "POST",
      `${run}/assets`,
      `{"asset_type":"ckpt","components":[{"path":"a","size":1e300,"sha256":"${"0".repeat(64)}"}]}`,
    );
    expectRefused(res, "components.0.size");
  });
});

describe("forged and stale cursors are 400 invalid_request", () => {
  const cursor = (key: unknown[]) => Buffer.from(j(key)).toString("base64url");
  const at = "2026-01-01T00:00:00.000Z";
  const uuid = "0190f5a4-0000-7000-8000-000000000000";
  const lists = [
    { url: "/v1/experiments", key: ["exp"] },
    { url: `/v1/experiments/${exp}/variations`, key: ["v"] },
    { url: `/v1/experiments/${exp}/variations/v/runs`, key: ["v", 0] },
    { url: `/v1/experiments/${exp}/runs`, key: ["v", 0] },
    { url: `${run}/outputs`, key: [uuid] },
    { url: `/v1/experiments/${exp}/variations/v/outputs`, key: [uuid] },
    { url: `/v1/experiments/${exp}/outputs`, key: [uuid] },
    { url: `/v1/experiments/${exp}/variations/v/inputs`, key: [uuid] },
    { url: "/v1/tokens", key: [uuid] },
  ];
  const forgeries = (key: unknown[]) => [
    ["year 0", cursor(["0000-01-01T00:00:00.000Z", ...key])],
    ["a year past 9999", cursor(["+010000-01-01T00:00:00.000Z", ...key])],
    ["a time that is not a time", cursor(["2026-02-30T00:00:00.000Z", ...key])],
    ["a time of another spelling", cursor(["2026-01-01T00:00:00Z", ...key])],
    ["a missing tiebreak", cursor([at])],
    ["an extra tiebreak", cursor([at, ...key, "x"])],
    ["a tiebreak of the wrong type", cursor([at, ...key.map((part) => (typeof part === "number" ? "0" : 0))])],
    ["a tiebreak with NUL", cursor([at, ...key.map((part) => (typeof part === "string" ? `${part}\u0000` : part))])],
    [
      "a non-UUID or non-identifier tiebreak",
      cursor([at, ...key.map((part) => (typeof part === "string" ? "-x-" : part))]),
    ],
    ["a run index of 1.5", cursor([at, "v", 1.5])],
    ["a run index past 2^31 - 1", cursor([at, "v", 2 ** 31])],
    ["an object", cursor({ at } as unknown as unknown[])],
    ["base64 of no JSON", Buffer.from("not json").toString("base64url")],
    ["the right key with padding", `${cursor([at, ...key])}==`],
    ["characters outside base64url", "a+b/c="],
  ];

  test.for(lists)("on $url", async ({ url, key }) => {
    // The real cursor of this key works, so each refusal below is about what was changed.
    const real = await api.request({ method: "GET", url: `${url}?cursor=${cursor([at, ...key])}` });
    expect(real.status, JSON.stringify(real.body)).toBe(200);
    for (const [what, forged] of forgeries(key)) {
      const res = await api.request({ method: "GET", url: `${url}?cursor=${encodeURIComponent(forged as string)}` });
      expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBe(400);
      expect(res.body.error.code).toBe("invalid_request");
      expect(res.body.error.details.fields[0]).toMatchObject({ in: "query", path: "cursor" });
    }
  });
});

describe("path parameters", () => {
  const longest = `L${"x".repeat(127)}`;

  test("ids of 101 to 128 characters reach every route", async () => {
    for (const length of [101, 128]) {
      const id = `L${"y".repeat(length - 1)}`;
      const created = await api.request({ method: "POST", url: "/v1/experiments", payload: { id } });
      expect(created.status).toBe(201);
      expect((await api.request({ method: "GET", url: `/v1/experiments/${id}` })).status).toBe(200);
      const started = await api.request({ method: "POST", url: `/v1/experiments/${id}/variations/${id}/runs/0/start` });
      expect(started.status).toBe(200);
      const runs = await api.request({ method: "GET", url: `/v1/experiments/${id}/variations/${id}/runs` });
      expect(runs.status).toBe(200);
      expect(runs.body.items).toHaveLength(1);
    }
  });

  test("an id of 128 characters that does not exist is 404, and 129 is 400", async () => {
    const missing = await api.request({ method: "GET", url: `/v1/experiments/${longest}/variations/${longest}` });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("experiment_not_found");
    const tooLong = await api.request({ method: "GET", url: `/v1/experiments/${longest}z` });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.details.fields[0]).toMatchObject({ in: "params", path: "exp" });
  });

  test("a parameter past what the router reads is 400 with the error body", async () => {
    const res = await api.request({ method: "GET", url: `/v1/experiments/${"x".repeat(5000)}/runs` });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: "invalid_request", request_id: res.headers["x-request-id"] });
  });

  test("a malformed percent-encoding is 400 with the error body", async () => {
    const res = await api.request({ method: "GET", url: "/v1/experiments/%E0%A4%A" });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: "invalid_request", request_id: res.headers["x-request-id"] });
  });
});
