import { describe, expect, test } from "vitest";
import { ApiError } from "../errors.js";
import { decodeCursor, encodeCursor, toPage } from "./cursor.js";

describe("cursors", () => {
  test("round-trip the sort key to the millisecond", () => {
    const key: [Date, string] = [new Date("2026-11-27T04:05:06.789Z"), "exp-1"];
    expect(decodeCursor(encodeCursor(key))).toEqual(key);
  });

  test("an absent cursor is the first page", () => {
    expect(decodeCursor(undefined)).toBeUndefined();
  });

  test.for([
    "",
    "abc",
    Buffer.from("{}").toString("base64url"),
    Buffer.from('["nope","x"]').toString("base64url"),
    Buffer.from('["2026-01-01T00:00:00.000Z",5]').toString("base64url"),
  ])("%j is refused as invalid_request", (cursor) => {
    expect(() => decodeCursor(cursor)).toThrow(ApiError);
    try {
      decodeCursor(cursor);
    } catch (err) {
      expect((err as ApiError).code).toBe("invalid_request");
    }
  });

  test("toPage cuts the extra row and points the cursor at the last item shown", () => {
    const rows = [3, 2, 1].map((n) => ({ at: new Date(n * 1000), id: `r${n}` }));
    const page = toPage(
      rows,
      2,
      (r) => [r.at, r.id],
      (r) => r.id,
    );
    expect(page.items).toEqual(["r3", "r2"]);
    expect(decodeCursor(page.next_cursor ?? undefined)).toEqual([new Date(2000), "r2"]);
    expect(
      toPage(
        rows,
        3,
        (r) => [r.at, r.id],
        (r) => r.id,
      ).next_cursor,
    ).toBeNull();
  });
});
