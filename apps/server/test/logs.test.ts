import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type Api, startApp } from "./support/app.js";
import { captureLogs } from "./support/logs.js";

// What the server logs when things go wrong: the route and the request's id, never a secret, the hash
// of one, or the values of a request's query or of a database query.
let api: Api;
let close: () => Promise<void>;
const log = captureLogs();

beforeAll(async () => {
  // Every request and response is logged, so that a value's absence from the log means something.
  ({ api, close } = await startApp({}, { logger: { level: "trace", stream: log.stream } }));
  expect((await api.request({ method: "POST", url: "/v1/experiments", payload: { id: "logs" } })).status).toBe(201);
});

afterAll(() => close());

/** The log lines written while `action` ran. */
async function linesOf(action: () => Promise<unknown>): Promise<{ text: string; entries: Record<string, any>[] }> {
  const before = log.entries().length;
  await action();
  const entries = log.entries().slice(before);
  return { text: entries.map((e) => JSON.stringify(e)).join("\n"), entries };
}

describe("the log", () => {
  test("of a 500 names the route and the request, not the values of its query or of the database's", async () => {
    const url = "/v1/experiments/logs/variations/v/outputs?asset_type=marker.q7x&state=ready";
    const { text, entries } = await linesOf(async () => {
      // The database fails the query: the table it reads is gone for a moment.
      await api.app.db.execute(sql`alter table assets rename to assets_away`);
      try {
        const res = await api.request({ method: "GET", url });
        expect(res.status).toBe(500);
        expect(res.body.error.code).toBe("internal");
      } finally {
        await api.app.db.execute(sql`alter table assets_away rename to assets`);
      }
    });
    const failed = entries.find((e) => e.msg === "request failed");
    expect(failed).toMatchObject({
      level: 50,
      route: "/v1/experiments/:exp/variations/:var/outputs",
      request_id: expect.stringMatching(/^req_/),
      err: { type: expect.any(String), message: expect.stringContaining("Failed query") },
    });
    expect(failed?.err.stack).toEqual(expect.any(String));
    expect(text).toContain("/v1/experiments/logs/variations/v/outputs");
    expect(text).not.toContain("marker.q7x");
    expect(text).not.toContain("params");
  });

  test("of a failed token insert holds neither the secret nor its hash", async () => {
    const { text, entries } = await linesOf(async () => {
      await api.app.db.execute(sql`alter table tokens add constraint no_new_tokens check (false) not valid`);
      try {
        const res = await api.request({ method: "POST", url: "/v1/tokens", payload: { name: "t", scope: "read" } });
        expect(res.status).toBe(500);
      } finally {
        await api.app.db.execute(sql`alter table tokens drop constraint no_new_tokens`);
      }
    });
    expect(entries.find((e) => e.msg === "request failed")?.err.cause).toMatchObject({
      code: "23514",
      constraint: "no_new_tokens",
    });
    // PostgreSQL's detail would read "Failing row contains (<id>, t, read, <secret hash>, ...)".
    expect(text).not.toMatch(/[0-9a-f]{64}/);
    expect(text).not.toContain("Failing row");
    expect(text).not.toContain("mth_");
  });

  test("of a request with a token in its query string does not hold the token", async () => {
    const secret = "mth_sent-in-the-query-by-mistake";
    const { text } = await linesOf(async () => {
      const res = await api.request({ method: "GET", url: `/v1/experiments?token=${secret}`, token: null });
      expect(res.status).toBe(401);
      const known = await api.request({ method: "GET", url: `/v1/experiments?limit=5&sig=${secret}` });
      expect(known.status).toBe(400);
    });
    expect(text).toContain("incoming request");
    expect(text).toContain('"url":"/v1/experiments"');
    expect(text).not.toContain(secret);
  });
});
