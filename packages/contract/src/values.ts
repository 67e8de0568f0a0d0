import { z } from "zod";

/**
 * The rules every string and JSON value a request carries is held to, whichever field it is in: what
 * PostgreSQL cannot store (NUL, in text and in jsonb alike), what is not Unicode (an unpaired UTF-16
 * surrogate would be stored as U+FFFD and come back changed), JSON nested past any use, and JSON
 * fields too large to list.
 */

/** A NUL, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one. */
const NOT_TEXT = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
export const TEXT_RULE = "must not contain NUL or unpaired UTF-16 surrogates";

export function isText(value: string): boolean {
  return !NOT_TEXT.test(value);
}

/** The check of every request string that no pattern already holds to it. */
export const textCheck = z.superRefine<string>((value, ctx) => {
  if (!isText(value)) ctx.addIssue({ code: "custom", message: TEXT_RULE, input: value });
});

/**
 * The part of the text rule that the OpenAPI document can carry to every client: a JSON Schema
 * pattern cannot name a lone surrogate in a way that every language's regular expressions accept.
 */
export const NO_NUL_PATTERN = "^[^\\x00]*$";

/** A request string: `min` to `max` characters, all of them text. */
export function text(max: number, min = 0) {
  return z.string().min(min).max(max).check(textCheck).meta({ pattern: NO_NUL_PATTERN });
}

/** Arrays and objects nest at most this deep, in a request body and in every JSON value of one. */
export const JSON_MAX_DEPTH = 64;
/** `config`, `asset_config`, `summary` and `details` are at most this, serialized. */
export const JSON_FIELD_MAX_BYTES = 1024 * 1024;

export function utf8Length(value: string): number {
  return new TextEncoder().encode(value).length;
}

interface Frame {
  value: unknown;
  depth: number;
  parent: Frame | undefined;
  key: string | number | undefined;
}

function pathOf(frame: Frame): (string | number)[] {
  const path: (string | number)[] = [];
  for (let at: Frame | undefined = frame; at?.key !== undefined; at = at.parent) path.unshift(at.key);
  return path;
}

/**
 * What keeps `value` from being a storable JSON value, and where in it, or undefined. Walked with a
 * stack of its own rather than by recursion, so that no depth can overflow the call stack.
 */
export function jsonProblem(value: unknown): { path: (string | number)[]; message: string } | undefined {
  const stack: Frame[] = [{ value, depth: 0, parent: undefined, key: undefined }];
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    const at = frame.value;
    if (typeof at === "string") {
      if (!isText(at)) return { path: pathOf(frame), message: TEXT_RULE };
    } else if (typeof at === "number") {
      if (!Number.isFinite(at)) return { path: pathOf(frame), message: "must be a finite number" };
    } else if (at !== null && typeof at !== "boolean") {
      if (typeof at !== "object") return { path: pathOf(frame), message: "must be a JSON value" };
      const depth = frame.depth + 1;
      if (depth > JSON_MAX_DEPTH) {
        return { path: pathOf(frame), message: `nests arrays and objects deeper than ${JSON_MAX_DEPTH} levels` };
      }
      const entries: [string | number, unknown][] = Array.isArray(at) ? [...at.entries()] : Object.entries(at);
      for (const [key, child] of entries) {
        if (typeof key === "string" && !isText(key))
          return { path: pathOf(frame), message: `has a key that ${TEXT_RULE}` };
        stack.push({ value: child, depth, parent: frame, key });
      }
    }
  }
  return undefined;
}

/** The issue a JSON field too large gets: the server answers it 413 rather than 400. */
export const TOO_LARGE = "payload_too_large";

function jsonCheck(maxBytes: number | undefined) {
  return z.superRefine<unknown>((value, ctx) => {
    const problem = jsonProblem(value);
    if (problem) {
      ctx.addIssue({ code: "custom", message: problem.message, path: problem.path, input: value });
      return;
    }
    if (maxBytes === undefined) return;
    const bytes = utf8Length(JSON.stringify(value));
    if (bytes > maxBytes) {
      ctx.addIssue({
        code: "custom",
        message: `is ${bytes} bytes serialized, over the ${maxBytes / 1024 / 1024} MiB limit`,
        params: { error: TOO_LARGE },
        input: value,
      });
    }
  });
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const OBJECT_SCHEMA = { type: "object", additionalProperties: {} } as const;

/**
 * A free-form JSON object as answers carry it. Checked as an object only, never copied key by key:
 * a config of 100,000 keys costs nothing to pass through.
 */
export const JsonObject = z
  .custom<Record<string, unknown>>(isObject, "must be a JSON object")
  .meta({ ...OBJECT_SCHEMA, description: "A JSON object" });

/**
 * `config`, `asset_config`, `summary`, `details` in a request: a JSON object of text strings (keys
 * too), nested at most JSON_MAX_DEPTH deep, at most JSON_FIELD_MAX_BYTES serialized.
 */
export const JsonObjectField = z
  .custom<Record<string, unknown>>(isObject, "must be a JSON object")
  .check(jsonCheck(JSON_FIELD_MAX_BYTES))
  .meta({
    ...OBJECT_SCHEMA,
    description: `A JSON object, at most ${JSON_FIELD_MAX_BYTES / 1024 / 1024} MiB serialized and ${JSON_MAX_DEPTH} levels deep`,
  });

/** Any JSON value in a request, held to the same rules as a JSON object field but for its size. */
export const JsonValueField = z.custom<unknown>().check(jsonCheck(undefined));
