import { describe, expect, test } from "vitest";
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
  test("every error status a route declares has a code", () => {
    const statuses = new Set<number>(Object.values(ERROR_STATUS));
    for (const [name, route] of Object.entries(routes)) {
      for (const status of route.errors) expect(statuses, `${name} declares ${status}`).toContain(status);
      const responses: Record<number, unknown> = route.responses;
      expect(responses[500]).toBe(ErrorBody);
      expect(responses[503]).toBe(ErrorBody);
    }
  });
  test("operation paths and methods are unique", () => {
    const keys = Object.values(routes).map((route) => `${route.method} ${route.path}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
