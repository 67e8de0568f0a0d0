import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { nestsDeeperThan } from "./json-body.js";

/** How deep a parsed JSON value nests arrays and objects (recursive: the values here are shallow). */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== "object") return 0;
  const children = Object.values(value);
  return 1 + (children.length === 0 ? 0 : Math.max(...children.map(depthOf)));
}

/** Strings full of what could mislead a scanner: quotes, backslashes and brackets. */
const tricky = fc.string({ unit: fc.constantFrom('"', "\\", "[", "]", "{", "}", "a", "\u00e9", "\n") });
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    tricky,
    fc.integer(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(tricky, tie("value"), { maxKeys: 3 }),
  ),
})).value;

describe("nestsDeeperThan", () => {
  test("says exactly whether serialized JSON nests deeper than the limit", () => {
    fc.assert(
      fc.property(json, fc.integer({ min: 0, max: 8 }), fc.boolean(), (value, max, pretty) => {
        const text = JSON.stringify(value, null, pretty ? 2 : undefined);
        expect(nestsDeeperThan(text, max)).toBe(depthOf(value) > max);
      }),
    );
  });

  test("deep nesting inside a string does not count, deep nesting around one does", () => {
    const deep = (levels: number, inner: string) => `${"[".repeat(levels)}${inner}${"]".repeat(levels)}`;
    expect(nestsDeeperThan(JSON.stringify({ s: deep(1000, "") }), 64)).toBe(false);
    expect(nestsDeeperThan(deep(65, JSON.stringify('"\\"]]]')), 64)).toBe(true);
    expect(nestsDeeperThan(deep(64, JSON.stringify("\\")), 64)).toBe(false);
  });

  test("text that is not JSON ends the scan without error: the parser refuses it next", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('"', "\\", "[", "]", "{", "}", "x") }), (text) => {
        expect(typeof nestsDeeperThan(text, 3)).toBe("boolean");
      }),
    );
  });
});
