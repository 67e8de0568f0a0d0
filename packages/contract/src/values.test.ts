import fc from "fast-check";
import { describe, expect, test } from "vitest";
import type { z } from "zod";
import { ComponentPath, CreateAssetBody } from "./assets.js";
import { ExperimentId, Name, VariationKey } from "./common.js";
import { routes } from "./index.js";
import {
  isText,
  JSON_FIELD_MAX_BYTES,
  JSON_MAX_DEPTH,
  JsonObjectField,
  JsonValueField,
  jsonProblem,
  TOO_LARGE,
  utf8Length,
} from "./values.js";

/** One UTF-16 code unit of any kind: NUL, lone surrogate halves and every code point. */
const codeUnit = fc.oneof(
  { arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }), weight: 4 },
  fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit)),
  fc.constant("\0"),
);
const anyString = fc.string({ unit: codeUnit, maxLength: 40 });
/** A string with at least one NUL or unpaired surrogate in it, anywhere. */
const notText = fc
  .tuple(
    fc.string({ unit: "grapheme", maxLength: 20 }),
    fc.constantFrom("\0", "\ud800", "\udbff", "\udc00", "\udfff"),
    fc.string({ unit: "grapheme", maxLength: 20 }),
  )
  .map(([before, bad, after]) => before + bad + after)
  // "\ud800" before a string that starts with a low surrogate would pair up: keep only real misfits.
  .filter((value) => !isText(value));

describe("text", () => {
  test("isText is exactly: no NUL and well-formed UTF-16", () => {
    fc.assert(
      fc.property(anyString, (value) => {
        // The oracle is Node's own check (ES2024, newer than the library this package compiles against).
        const wellFormed = (value as string & { isWellFormed(): boolean }).isWellFormed();
        expect(isText(value)).toBe(!value.includes("\0") && wellFormed);
      }),
    );
  });

  test("every string a request can carry refuses NUL and unpaired surrogates", () => {
    const strings = requestStrings();
    // Every route with input has some; a walk that found none would prove nothing.
    expect(strings.length).toBeGreaterThan(30);
    for (const { where, schema } of strings) {
      fc.assert(
        fc.property(notText, (value) => {
          expect(schema.safeParse(value).success, `${where} took ${JSON.stringify(value)}`).toBe(false);
        }),
        { numRuns: 50 },
      );
    }
  });

  test("names take any text of 1 to 256 code units, emoji and all", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 300 }), (value) => {
        expect(Name.safeParse(value).success).toBe(value.length >= 1 && value.length <= 256);
      }),
    );
  });

  test("identifiers: what the pattern says, up to 128 characters, and nothing else", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/), (id) => {
        expect(ExperimentId.safeParse(id).success).toBe(true);
        expect(VariationKey.safeParse(id).success).toBe(true);
      }),
    );
    fc.assert(
      fc.property(anyString, (id) => {
        expect(ExperimentId.safeParse(id).success).toBe(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id));
      }),
    );
  });

  test("component paths: relative, clean segments, text, at most 1024 UTF-8 bytes", () => {
    const segment = fc.oneof(fc.string({ unit: codeUnit, minLength: 1, maxLength: 12 }), fc.constantFrom(".", ".."));
    const path = fc.oneof(
      fc.array(segment, { minLength: 1, maxLength: 6 }).map((segments) => segments.join("/")),
      anyString,
      fc.string({ unit: "grapheme", minLength: 300, maxLength: 1100 }),
    );
    fc.assert(
      fc.property(path, (value) => {
        const ok =
          value.length > 0 &&
          isText(value) &&
          utf8Length(value) <= 1024 &&
          !value.includes("\\") &&
          value.split("/").every((s) => s !== "" && s !== "." && s !== "..");
        expect(ComponentPath.safeParse(value).success).toBe(ok);
        // The pattern the OpenAPI document states agrees, where it can speak (text, within 1024 bytes).
        const pattern = new RegExp((ComponentPath.meta() as { pattern: string }).pattern, "u");
        if (isText(value) && utf8Length(value) <= 1024) expect(pattern.test(value)).toBe(ok);
      }),
    );
  });
});

/** A JSON value with a string of `bad` somewhere in it, as a value or as a key. */
const withBadString = fc
  .tuple(fc.jsonValue({ maxDepth: 4 }), notText, fc.boolean(), fc.nat())
  .map(([value, bad, asKey, at]) => {
    const holders: unknown[] = [];
    const collect = (node: unknown) => {
      if (node !== null && typeof node === "object") {
        holders.push(node);
        for (const child of Object.values(node)) collect(child);
      }
    };
    collect(value);
    const root = { value };
    const holder = (holders.length > 0 ? holders[at % holders.length] : root) as Record<string, unknown>;
    if (Array.isArray(holder)) holder.push(bad);
    else if (asKey) holder[bad] = 1;
    else holder.bad = bad;
    return holders.length > 0 ? value : root;
  });

const nestedArrays = (depth: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
};

describe("JSON values", () => {
  test("any JSON value of text strings within 64 levels has no problem", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 10 }), (value) => {
        const problem = jsonProblem(value);
        // fast-check's strings may hold lone surrogates; only those may be a problem.
        if (problem) expect(problem.message).toMatch(/NUL or unpaired/);
      }),
    );
  });

  test("a NUL or unpaired surrogate anywhere, in a value or a key, is found", () => {
    fc.assert(
      fc.property(withBadString, (value) => {
        expect(jsonProblem(value)?.message).toMatch(/NUL or unpaired UTF-16 surrogates/);
        expect(JsonValueField.safeParse(value).success).toBe(false);
        expect(JsonObjectField.safeParse({ v: value }).success).toBe(false);
      }),
    );
  });

  test("depth: at most 64 levels, and no depth overflows the stack", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), (depth) => {
        expect(jsonProblem(nestedArrays(depth)) === undefined).toBe(depth <= JSON_MAX_DEPTH);
      }),
    );
    expect(jsonProblem(nestedArrays(1_000_000))?.message).toMatch(/deeper than 64/);
  });

  test("fields are at most 1 MiB serialized, and over it is the 413 issue", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2048 }), fc.constantFrom("x", "é", "🚀"), (extra, char) => {
        const filler = char.repeat(Math.ceil((JSON_FIELD_MAX_BYTES - 1024 + extra) / utf8Length(char)));
        const value = { filler };
        const bytes = utf8Length(JSON.stringify(value));
        const result = JsonObjectField.safeParse(value);
        expect(result.success).toBe(bytes <= JSON_FIELD_MAX_BYTES);
        if (!result.success) {
          expect(result.error.issues).toEqual([
            expect.objectContaining({ code: "custom", params: { error: TOO_LARGE } }),
          ]);
        }
      }),
      { numRuns: 30 },
    );
  });

  test("only objects are JSON object fields", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 2 }), (value) => {
        const isObject = typeof value === "object" && value !== null && !Array.isArray(value);
        if (jsonProblem(value) === undefined) expect(JsonObjectField.safeParse(value).success).toBe(isObject);
      }),
    );
  });
});

describe("sizes", () => {
  const component = (size: number, i: number) => ({ path: `f${i}`, size, sha256: "0".repeat(64) });
  const size = fc.oneof(fc.nat(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.double());

  test("each size and the manifest's total stay within 2^53 - 1", () => {
    fc.assert(
      fc.property(fc.array(size, { minLength: 1, maxLength: 5 }), (sizes) => {
        const body = { asset_type: "checkpoint", components: sizes.map(component) };
        const each = sizes.every((s) => Number.isInteger(s) && s >= 0 && s <= Number.MAX_SAFE_INTEGER);
        const total = sizes.reduce((sum, s) => sum + s, 0);
        expect(CreateAssetBody.safeParse(body).success).toBe(each && total <= Number.MAX_SAFE_INTEGER);
      }),
    );
  });
});

/** Every string schema of every route's params, query, headers and body, found by walking them. */
function requestStrings(): { where: string; schema: z.ZodType }[] {
  const found: { where: string; schema: z.ZodType }[] = [];
  const walk = (schema: z.ZodType, where: string): void => {
    const def = (schema as any)._zod.def;
    switch (def.type) {
      case "string":
        found.push({ where, schema });
        break;
      case "object":
        for (const [key, child] of Object.entries(def.shape)) walk(child as z.ZodType, `${where}.${key}`);
        break;
      case "array":
        walk(def.element, `${where}[]`);
        break;
      case "record":
        walk(def.keyType, `${where}{key}`);
        walk(def.valueType, `${where}{}`);
        break;
      case "union":
        for (const [i, option] of (def.options as z.ZodType[]).entries()) walk(option, `${where}|${i}`);
        break;
      case "pipe":
        // What a request can carry is what the pipe's input takes.
        walk(def.in, where);
        break;
      case "optional":
      case "nullable":
      case "default":
      case "prefault":
      case "readonly":
        walk(def.innerType, where);
        break;
    }
  };
  for (const [name, route] of Object.entries(routes)) {
    for (const part of ["params", "query", "headers", "body"] as const) {
      const schema = (route as Record<string, unknown>)[part] as z.ZodType | undefined;
      if (schema) walk(schema, `${name}.${part}`);
    }
  }
  return found;
}
