import { describe, expect, test } from "vitest";
import { pageComponents, pagePieces, pieceOf, piecesOf, type StoredAsset } from "./pieces.js";

const component = (path: string, size: number) => ({ path, size, sha256: "0".repeat(64) });
const asset: StoredAsset = {
  id: "a",
  partSize: 10,
  components: [component("one", 5), component("empty", 0), component("three", 25), component("two", 20)],
};

/** A page as `path#part` keys. */
function page(recorded: Record<string, number[]>, limit: number) {
  const counts = new Map(Object.entries(recorded).map(([path, parts]) => [path, parts.length]));
  const { indices, truncated } = pageComponents(asset, counts, limit);
  const parts = new Map(Object.entries(recorded).map(([path, numbers]) => [path, new Set(numbers)]));
  const keys = pagePieces(asset, indices, parts, limit).flatMap(({ component, pieces }) =>
    pieces.map((p) => `${component.path}#${p.partNumber}`),
  );
  return { keys, truncated };
}

describe("pieces", () => {
  test("pieceOf is piecesOf's arithmetic, one piece at a time", () => {
    for (const c of asset.components) {
      const all = piecesOf(c, asset.partSize);
      expect(all.map((p) => pieceOf(c, asset.partSize, p.partNumber))).toEqual(all);
      expect(pieceOf(c, asset.partSize, all.length + 1)).toBeUndefined();
      expect(pieceOf(c, asset.partSize, 0)).toBeUndefined();
    }
    expect(piecesOf(asset.components[2]!, 10).map((p) => [p.offset, p.size])).toEqual([
      [0, 10],
      [10, 10],
      [20, 5],
    ]);
  });

  test("a page is the first unrecorded pieces in manifest order, truncated while more remain", () => {
    expect(page({}, 100)).toEqual({
      keys: ["one#1", "three#1", "three#2", "three#3", "two#1", "two#2"],
      truncated: false,
    });
    expect(page({}, 6)).toEqual({
      keys: ["one#1", "three#1", "three#2", "three#3", "two#1", "two#2"],
      truncated: false,
    });
    expect(page({}, 5)).toEqual({ keys: ["one#1", "three#1", "three#2", "three#3", "two#1"], truncated: true });
    expect(page({}, 4)).toEqual({ keys: ["one#1", "three#1", "three#2", "three#3"], truncated: true });
    expect(page({}, 2)).toEqual({ keys: ["one#1", "three#1"], truncated: true });
  });

  test("recorded pieces are skipped wherever they are, gaps included", () => {
    expect(page({ one: [1], three: [2] }, 2)).toEqual({ keys: ["three#1", "three#3"], truncated: true });
    expect(page({ one: [1], three: [1, 3], two: [2] }, 2)).toEqual({ keys: ["three#2", "two#1"], truncated: false });
    expect(page({ one: [1], three: [1, 2, 3], two: [1, 2] }, 2)).toEqual({ keys: [], truncated: false });
  });
});
