import { createHash } from "node:crypto";
import { sql } from "drizzle-orm";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { FAILED_AUTH_LIMITS } from "../src/lib/failure-limiter.js";
import { HTML_CONTENT_SECURITY_POLICY } from "../src/plugins/security-headers.js";
import { ADMIN_TOKEN, startApp } from "./support/app.js";
import { captureLogs } from "./support/logs.js";

let app: FastifyInstance;
let close: () => Promise<void>;
const log = captureLogs();

async function call(
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
  url: string,
  token?: string,
  payload?: object,
) {
  const res = await app.inject({
    method,
    url,
    ...(token !== undefined && { headers: { authorization: `Bearer ${token}` } }),
    ...(payload && { payload }),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined, headers: res.headers };
}

async function createToken(scope: string, name = `${scope} token`) {
  const res = await call("POST", "/v1/tokens", ADMIN_TOKEN, { name, scope });
  expect(res.status).toBe(201);
  return res.body as { id: string; name: string; scope: string; token: string; created_at: string };
}

beforeAll(async () => {
  // Every request and response is logged, so that the secrets' absence from the log means something.
  ({ app, close } = await startApp({}, { logger: { level: "trace", stream: log.stream } }));
  await call("POST", "/v1/experiments", ADMIN_TOKEN, { id: "auth" });
  await call("POST", "/v1/experiments/auth/variations/v/runs/0/start", ADMIN_TOKEN);
});

afterAll(() => close());

// One route of each class, and a body that would succeed for it.
const routes = {
  read: [
    ["GET", "/v1/experiments"],
    ["GET", "/v1/experiments/auth/variations/v/runs/0"],
  ],
  write: [
    ["PUT", "/v1/experiments/auth/variations/w"],
    ["POST", "/v1/experiments/auth/variations/v/runs/0/heartbeat"],
  ],
  admin: [["GET", "/v1/tokens"]],
} as const;

describe("auth", () => {
  test("service routes need no token", async () => {
    for (const url of ["/healthz", "/readyz", "/openapi.json"]) expect((await call("GET", url)).status).toBe(200);
  });

  test("every /v1 route class refuses a missing, malformed or unknown token with 401", async () => {
    for (const [method, url] of Object.values(routes).flat()) {
      for (const headers of [{}, { authorization: "Basic YWRtaW46YWRtaW4=" }, { authorization: "Bearer" }]) {
        const res = await app.inject({ method, url, headers });
        expect(res.statusCode, `${method} ${url} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.json().error.code).toBe("unauthorized");
      }
      const unknown = await call(method, url, "mth_not-a-real-token");
      expect(unknown.status).toBe(401);
      expect(unknown.body.error.message).toMatch(/unknown or has been revoked/);
    }
  });

  test("scopes nest: read < write < admin", async () => {
    const tokens = {
      read: await createToken("read"),
      write: await createToken("write"),
      admin: await createToken("admin"),
    };
    const rank = { read: 1, write: 2, admin: 3 };
    for (const [scope, token] of Object.entries(tokens)) {
      for (const [need, list] of Object.entries(routes)) {
        for (const [method, url] of list) {
          const res = await call(method, url, token.token);
          const allowed = rank[scope as keyof typeof rank] >= rank[need as keyof typeof rank];
          if (allowed) {
            expect([200, 201], `${scope} token on ${method} ${url}`).toContain(res.status);
          } else {
            expect(res.status, `${scope} token on ${method} ${url}`).toBe(403);
            expect(res.body.error).toEqual({
              code: "forbidden",
              message: `This token has the ${scope} scope; this route needs ${need}.`,
              request_id: res.headers["x-request-id"],
            });
          }
        }
      }
    }
  });

  test("a refused request is refused before its body is read", async () => {
    const res = await app.inject({
      method: "POST",
      url: "/v1/experiments",
      headers: { "content-type": "application/json" },
      payload: "{ not json",
    });
    expect(res.statusCode).toBe(401);
  });
});

describe("tokens", () => {
  test("create shows the secret once; list never does", async () => {
    const created = await createToken("write", "trainer on gpu-7");
    expect(created).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: "trainer on gpu-7",
      scope: "write",
      token: expect.stringMatching(/^mth_[A-Za-z0-9_-]{43}$/),
      created_at: expect.any(String),
    });
    const list = await call("GET", "/v1/tokens?limit=1000", ADMIN_TOKEN);
    expect(list.status).toBe(200);
    const listed = list.body.items.find((t: { id: string }) => t.id === created.id);
    expect(listed).toEqual({
      id: created.id,
      name: "trainer on gpu-7",
      scope: "write",
      created_at: created.created_at,
    });
    expect(JSON.stringify(list.body)).not.toContain(created.token);
  });

  test("a revoked token fails on its next request, and leaves the list", async () => {
    const token = await createToken("read");
    expect((await call("GET", "/v1/experiments", token.token)).status).toBe(200);
    const revoked = await call("DELETE", `/v1/tokens/${token.id}`, ADMIN_TOKEN);
    expect(revoked.status).toBe(204);
    expect(revoked.body).toBeUndefined();
    expect((await call("GET", "/v1/experiments", token.token)).status).toBe(401);
    const list = await call("GET", "/v1/tokens?limit=1000", ADMIN_TOKEN);
    expect(list.body.items.map((t: { id: string }) => t.id)).not.toContain(token.id);
    // Revoking again is idempotent; an unknown id is 404.
    expect((await call("DELETE", `/v1/tokens/${token.id}`, ADMIN_TOKEN)).status).toBe(204);
    const unknown = await call("DELETE", "/v1/tokens/00000000-0000-7000-8000-000000000000", ADMIN_TOKEN);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("not_found");
  });

  test.for([
    ["a missing scope", { name: "x" }],
    ["an unknown scope", { name: "x", scope: "root" }],
    ["an empty name", { name: "", scope: "read" }],
    ["an unknown field", { name: "x", scope: "read", expires: "never" }],
  ] as const)("create with %s is 400", async ([, payload]) => {
    const res = await call("POST", "/v1/tokens", ADMIN_TOKEN, payload);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
  });

  test("a token id that is not a UUID is 400", async () => {
    const res = await call("DELETE", "/v1/tokens/abc", ADMIN_TOKEN);
    expect(res.status).toBe(400);
  });

  test("no secret ever reaches the log", async () => {
    const token = await createToken("admin");
    await call("GET", "/v1/tokens", token.token);
    await call("GET", "/v1/experiments", "mth_wrong-secret-in-a-request");
    const text = log.text();
    expect(text).toContain("incoming request");
    expect(text).not.toContain(token.token);
    expect(text).not.toContain(ADMIN_TOKEN);
    expect(text).not.toContain("mth_wrong-secret-in-a-request");
  });

  test("nor does a signed URL's query string", async () => {
    const body = Buffer.from("weights");
    const created = await call("POST", "/v1/experiments/auth/variations/v/runs/0/assets", ADMIN_TOKEN, {
      asset_type: "checkpoint",
      components: [{ path: "w.bin", size: body.length, sha256: createHash("sha256").update(body).digest("hex") }],
    });
    const upload = new URL(created.body.upload.components[0].url);
    expect(upload.search).toContain("sig=");
    const put = await app.inject({ method: "PUT", url: upload.pathname + upload.search, payload: body });
    expect(put.statusCode).toBe(200);
    await call("POST", `/v1/assets/${created.body.asset.id}/finalize`, ADMIN_TOKEN);
    const download = await call("GET", `/v1/assets/${created.body.asset.id}/download`, ADMIN_TOKEN);
    const get = new URL(download.body.components[0].url);
    expect((await app.inject({ method: "GET", url: get.pathname + get.search })).body).toBe("weights");

    const text = log.text();
    expect(text).toContain(upload.pathname);
    for (const url of [upload, get]) expect(text).not.toContain(url.searchParams.get("sig"));
  });
});

describe("failed authentications", () => {
  /** A request from another client address than every other test's. */
  const from = (remoteAddress: string, token: string) =>
    app.inject({ method: "GET", url: "/v1/experiments", remoteAddress, headers: { authorization: `Bearer ${token}` } });
  const badToken = (i: number) => `mth_guess-${i}-${Math.random().toString(36).slice(2)}`;

  test("are limited per client address: 429 rate_limited with Retry-After, while valid tokens go on working", async () => {
    const stored = await createToken("read", "used from a busy address");
    expect((await from("10.1.0.1", stored.token)).statusCode).toBe(200);
    for (let i = 0; i < FAILED_AUTH_LIMITS.burst; i++) {
      const res = await from("10.1.0.1", badToken(i));
      expect(res.statusCode, `failure ${i}`).toBe(401);
    }
    const limited = await from("10.1.0.1", badToken(-1));
    expect(limited.statusCode).toBe(429);
    expect(limited.headers["retry-after"]).toMatch(/^[1-9]\d*$/);
    expect(limited.json()).toEqual({
      error: {
        code: "rate_limited",
        message: `Too many failed authentications from this address; try again in ${limited.headers["retry-after"]} s.`,
        request_id: limited.headers["x-request-id"],
      },
    });
    // Successful requests are never limited: the admin token, and a token that passed before.
    expect((await from("10.1.0.1", ADMIN_TOKEN)).statusCode).toBe(200);
    for (let i = 0; i < 50; i++) expect((await from("10.1.0.1", stored.token)).statusCode).toBe(200);
    // Another address is not limited by this one's failures; the hosts of one IPv6 /64 share a
    // budget, and another /64 has its own.
    expect((await from("10.1.0.2", badToken(0))).statusCode).toBe(401);
    for (let i = 0; i < FAILED_AUTH_LIMITS.burst; i++) await from(`2001:db8:1:2::${i.toString(16)}`, badToken(i));
    expect((await from("2001:db8:1:2::ffff", badToken(0))).statusCode).toBe(429);
    expect((await from("2001:db8:1:3::1", badToken(0))).statusCode).toBe(401);
  });

  test("of a token already refused cost no database query", async () => {
    const repeated = badToken(0);
    expect((await from("10.2.0.1", repeated)).statusCode).toBe(401);
    // With the tokens table gone, any lookup fails (500); a repeat of the refused token needs none.
    await app.db.execute(sql`alter table tokens rename to tokens_away`);
    try {
      expect((await from("10.2.0.1", repeated)).statusCode).toBe(401);
      expect((await from("10.2.0.1", badToken(1))).statusCode).toBe(500);
    } finally {
      await app.db.execute(sql`alter table tokens_away rename to tokens`);
    }
  });

  test("of a limited address cost no database query either", async () => {
    for (let i = 0; i < FAILED_AUTH_LIMITS.burst; i++) await from("10.3.0.1", badToken(i));
    await app.db.execute(sql`alter table tokens rename to tokens_away`);
    try {
      for (let i = 0; i < 5; i++) expect((await from("10.3.0.1", badToken(i))).statusCode).toBe(429);
    } finally {
      await app.db.execute(sql`alter table tokens_away rename to tokens`);
    }
  });
});

describe("security headers", () => {
  test("every answer carries x-content-type-options: nosniff", async () => {
    const answers = await Promise.all([
      app.inject({ method: "GET", url: "/healthz" }),
      app.inject({ method: "GET", url: "/openapi.json" }),
      app.inject({ method: "GET", url: "/docs/" }),
      app.inject({ method: "GET", url: "/v1/experiments" }),
      app.inject({ method: "GET", url: "/v1/experiments", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }),
      app.inject({
        method: "GET",
        url: "/v1/experiments?limit=abc",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      }),
      app.inject({ method: "GET", url: "/no/such/route" }),
    ]);
    expect(answers.map((res) => res.statusCode)).toEqual([200, 200, 200, 401, 200, 400, 404]);
    for (const res of answers) expect(res.headers["x-content-type-options"]).toBe("nosniff");
  });

  test("the HTML pages carry a Content-Security-Policy; other answers need none", async () => {
    const docs = await app.inject({ method: "GET", url: "/docs/" });
    expect(docs.headers["content-type"]).toMatch(/^text\/html/);
    expect(docs.headers["content-security-policy"]).toBe(HTML_CONTENT_SECURITY_POLICY);
    expect(HTML_CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(HTML_CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'");
    const json = await app.inject({ method: "GET", url: "/openapi.json" });
    expect(json.headers["content-security-policy"]).toBeUndefined();
  });
});
