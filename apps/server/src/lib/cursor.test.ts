import { AssetId, ExperimentId, RUN_INDEX_MAX, RunIndex, TokenId, VariationKey } from "@methodic/contract";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { ApiError } from "../errors.js";
import { decodeCursor, encodeCursor, type KeyShape, type SortKey, toPage } from "./cursor.js";

/** Every list's key shape, as its service decodes it. */
const shapes: Record<string, KeyShape> = {
  experiments: [ExperimentId],
  variations: [VariationKey],
  runs: [VariationKey, RunIndex],
  "outputs and inputs": [AssetId],
  tokens: [TokenId],
};

const identifier = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);
const tiebreakOf = (schema: KeyShape[number]): fc.Arbitrary<string | number> =>
  schema === RunIndex
    ? fc.integer({ min: 0, max: RUN_INDEX_MAX })
    : schema === AssetId || schema === TokenId
      ? fc.uuid({ version: 7 })
      : identifier;
/** Times a database row can have: the years 1 to 9999, to the millisecond. */
const time = fc.date({
  min: new Date("0001-01-01T00:00:00.000Z"),
  max: new Date("9999-12-31T23:59:59.999Z"),
  noInvalidDate: true,
});
const keyOf = (shape: KeyShape): fc.Arbitrary<SortKey> =>
  fc.tuple(time, ...shape.map(tiebreakOf)).map(([at, ...tiebreaks]) => [at, ...tiebreaks] as SortKey);

/** Decodes, or says how it refused: only ever the 400 of the API, never another error. */
function outcome(cursor: string, shape: KeyShape): SortKey | "refused" {
  try {
    return decodeCursor(cursor, shape)!;
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe("invalid_request");
    expect((err as ApiError).status).toBe(400);
    return "refused";
  }
}

describe("cursors", () => {
  test.for(Object.entries(shapes))("%s: every key round-trips to the millisecond", ([, shape]) => {
    fc.assert(
      fc.property(keyOf(shape), (key) => {
        expect(decodeCursor(encodeCursor(key), shape)).toEqual(key);
      }),
    );
  });

  test.for(Object.entries(shapes))("%s: any string decodes to a key of the shape or is a 400", ([, shape]) => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (cursor) => {
        const decoded = outcome(cursor, shape);
        if (decoded !== "refused") expect(encodeCursor(decoded)).toBe(cursor);
      }),
    );
    // Near misses: a real cursor with one character changed.
    const base64url = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
    fc.assert(
      fc.property(keyOf(shape), fc.nat(), base64url, (key, at, char) => {
        const real = encodeCursor(key);
        const i = at % real.length;
        const cursor = real.slice(0, i) + char + real.slice(i + 1);
        const decoded = outcome(cursor, shape);
        if (decoded !== "refused") expect(encodeCursor(decoded)).toBe(cursor);
      }),
    );
  });

  test.for(Object.entries(shapes))(
    "%s: any JSON array encoded as a cursor is a key of the shape or a 400",
    ([, shape]) => {
      const part = fc.oneof(
        fc.jsonValue({ maxDepth: 2 }),
        fc.string({ unit: "binary" }),
        time.map((at) => at.toISOString()),
        fc.double(),
        ...shape.map(tiebreakOf),
      );
      fc.assert(
        fc.property(fc.array(part, { maxLength: shape.length + 2 }), (parts) => {
          const decoded = outcome(Buffer.from(JSON.stringify(parts)).toString("base64url"), shape);
          if (decoded === "refused") return;
          expect(decoded).toHaveLength(shape.length + 1);
          expect(decoded[0]).toBeInstanceOf(Date);
          for (const [i, schema] of shape.entries()) expect(schema.safeParse(decoded[i + 1]).success).toBe(true);
        }),
      );
    },
  );

  test.for([
    ["year 0", ["0000-01-01T00:00:00.000Z", "x"]],
    ["a year past 9999", ["+010000-01-01T00:00:00.000Z", "x"]],
    ["another spelling of a time", ["2026-01-01T00:00:00Z", "x"]],
    ["a date that does not exist", ["2026-02-30T00:00:00.000Z", "x"]],
    ["a tiebreak that is no identifier", ["2026-01-01T00:00:00.000Z", "-x"]],
    ["a tiebreak with NUL", ["2026-01-01T00:00:00.000Z", "x\u0000"]],
    ["a number for a string", ["2026-01-01T00:00:00.000Z", 5]],
    ["a missing tiebreak", ["2026-01-01T00:00:00.000Z"]],
  ])("%s is refused", ([, key]) => {
    expect(outcome(Buffer.from(JSON.stringify(key)).toString("base64url"), [ExperimentId])).toBe("refused");
  });

  test("a run cursor needs a run index: 1.5, -1 and 2^31 are refused", () => {
    for (const run of [1.5, -1, 2 ** 31, "1"]) {
      const cursor = Buffer.from(JSON.stringify(["2026-01-01T00:00:00.000Z", "v", run])).toString("base64url");
      expect(outcome(cursor, [VariationKey, RunIndex]), String(run)).toBe("refused");
    }
  });

  test("a cursor of one list is refused by a list of another shape", () => {
    const experimentCursor = encodeCursor([new Date(), "exp-1"]);
    expect(outcome(experimentCursor, [AssetId])).toBe("refused");
    expect(outcome(experimentCursor, [VariationKey, RunIndex])).toBe("refused");
  });

  test("an absent cursor is the first page", () => {
    expect(decodeCursor(undefined, [ExperimentId])).toBeUndefined();
  });

  test("toPage points the cursor at the last item shown, and has none on the last page", () => {
    const rows = [3, 2].map((n) => ({ at: new Date(n * 1000), id: `r${n}` }));
    const page = toPage(
      { rows, more: true },
      (r) => [r.at, r.id],
      (r) => r.id,
    );
    expect(page.items).toEqual(["r3", "r2"]);
    expect(decodeCursor(page.next_cursor ?? undefined, [ExperimentId])).toEqual([new Date(2000), "r2"]);
    expect(
      toPage(
        { rows, more: false },
        (r) => [r.at, r.id],
        (r) => r.id,
      ).next_cursor,
    ).toBeNull();
  });
});
