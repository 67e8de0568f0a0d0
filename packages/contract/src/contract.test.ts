import { describe, expect, test } from "vitest";
import type { z } from "zod";
import { ERROR_STATUS, ErrorBody, ExperimentId, JsonObject, ListQuery, RunIndex, routes, Timestamp } from "./index.js";

describe("identifiers", () => {
  test.for(["a", "A9", "exp-1.v_2", `a${"b".repeat(127)}`])("%s is a valid experiment id", (id) => {
    expect(ExperimentId.safeParse(id).success).toBe(true);
  });
  test.for(["", "-a", ".a", "_a", "a/b", "a b", "a\u0000", "é", `a${"b".repeat(128)}`])(
    "%j is not a valid experiment id",
    (id) => {
      expect(ExperimentId.safeParse(id).success).toBe(false);
    },
  );
  test("run indexes are 0 to 2^31-1 integers", () => {
    expect(RunIndex.safeParse(0).success).toBe(true);
    expect(RunIndex.safeParse(2_147_483_647).success).toBe(true);
    for (const bad of [-1, 2_147_483_648, 1.5, "1"]) expect(RunIndex.safeParse(bad).success).toBe(false);
  });
});

describe("shared pieces", () => {
  test("timestamps are UTC with milliseconds", () => {
    expect(Timestamp.safeParse("2026-11-27T04:05:06.789Z").success).toBe(true);
    expect(Timestamp.safeParse("2026-11-27T04:05:06Z").success).toBe(false);
    expect(Timestamp.safeParse("2026-11-27T04:05:06.789+01:00").success).toBe(false);
  });
  test("JSON objects exclude arrays and null", () => {
    expect(JsonObject.safeParse({ a: [1] }).success).toBe(true);
    for (const bad of [[], null, "x", 1]) expect(JsonObject.safeParse(bad).success).toBe(false);
  });
  test("list queries default to 100 and stop at 1000", () => {
    expect(ListQuery.parse({})).toEqual({ limit: 100 });
    expect(ListQuery.parse({ limit: "1000" }).limit).toBe(1000);
    expect(ListQuery.safeParse({ limit: "1001" }).success).toBe(false);
  });
});

describe("route table", () => {
  test("every route answers internal and unavailable, and an error body for each status it declares", () => {
    for (const [name, route] of Object.entries(routes)) {
      expect(route.errors, name).toContain("internal");
      expect(route.errors, name).toContain("unavailable");
      const responses: Record<number, z.ZodType> = route.responses;
      for (const code of route.errors) {
        const body = { error: { code, message: "m", request_id: "r" } };
        expect(responses[ERROR_STATUS[code]]?.safeParse(body).success, `${name} ${code}`).toBe(true);
      }
    }
  });

  test("the codes a route's shape implies are derived; the others are its own", () => {
    const { createAsset, healthz, listExperiments, heartbeat } = routes;
    expect(healthz.errors).toEqual(["internal", "unavailable"]);
    expect(listExperiments.errors).toEqual([
      "invalid_request",
      "unauthorized",
      "forbidden",
      "rate_limited",
      "internal",
      "unavailable",
    ]);
    expect(heartbeat.errors).not.toContain("payload_too_large");
    expect(createAsset.errors).toEqual(
      expect.arrayContaining([
        "invalid_request",
        "rate_limited",
        "payload_too_large",
        "unsupported_media_type",
        "request_timeout",
        "run_finished",
      ]),
    );
  });

  test("an error response names only the route's codes of its status", () => {
    const conflict = routes.heartbeat.responses[409 as keyof typeof routes.heartbeat.responses] as z.ZodType;
    const body = (code: string) => ({ error: { code, message: "m", request_id: "r" } });
    expect(conflict.safeParse(body("run_finished")).success).toBe(true);
    expect(conflict.safeParse(body("asset_aborted")).success).toBe(false);
    expect(ErrorBody.safeParse(body("asset_aborted")).success).toBe(true);
  });

  test("POSTs are safe to repeat only where the route says so; other methods always", () => {
    const safe = Object.entries(routes)
      .filter(([, route]) => route.method === "POST" && route.idempotent !== false)
      .map(([name]) => name)
      .sort();
    expect(safe).toEqual(
      [
        "abortAsset",
        "createAsset",
        "failRun",
        "finalizeAsset",
        "heartbeat",
        "planUploads",
        "reportParts",
        "startRun",
        "succeedRun",
      ].sort(),
    );
    expect(routes.createAsset.idempotent).toBe("with-key");
    for (const route of Object.values(routes)) if (route.method !== "POST") expect(route.idempotent).toBe(true);
  });

  test("operation paths and methods are unique", () => {
    const keys = Object.values(routes).map((route) => `${route.method} ${route.path}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
