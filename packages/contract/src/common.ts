import { z } from "zod";
import { text, textCheck } from "./values.js";

const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const IDENTIFIER_RULE =
  "must be 1 to 128 characters of letters, digits, '.', '_' or '-', starting with a letter or digit";

export const ExperimentId = z
  .string()
  .regex(IDENTIFIER, `experiment id ${IDENTIFIER_RULE}`)
  .describe("Experiment id, chosen by the client: `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`");

export const VariationKey = z
  .string()
  .regex(IDENTIFIER, `variation key ${IDENTIFIER_RULE}`)
  .describe("Variation key within its experiment: `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`");

export const RUN_INDEX_MAX = 2_147_483_647;
export const RunIndex = z.int().min(0).max(RUN_INDEX_MAX).describe("Run index within its variation, 0 to 2147483647");

/** RFC 3339 UTC timestamp with milliseconds, as every answer carries it. */
export const Timestamp = z.iso.datetime({ precision: 3 }).describe("RFC 3339 UTC timestamp with milliseconds");

export const Name = text(256, 1);
export const Description = text(10_000);

/** Weights & Biases entity or project: it goes into dashboard URLs, so no URL-breaking characters. */
export const WandbName = z
  .string()
  .min(1)
  .max(128)
  // NUL is in the pattern too, so that the OpenAPI document says so.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what this refuses
  .regex(/^[^/\\#?%:\s\x00]+$/, "must not contain NUL, whitespace or any of / \\ # ? % :")
  .check(textCheck);

export const LIST_LIMIT_DEFAULT = 100;
export const LIST_LIMIT_MAX = 1000;
/**
 * A page also ends early once its items add up to this many bytes of free-form fields (configs,
 * summaries, details, descriptions, components), so that every page can be sent: its first item is
 * always on it, and `next_cursor` goes on from the last one shown. 4 MiB of 1 MiB configs took about
 * 200 ms to read and send (8 MiB twice that, measured on PGlite and PostgreSQL); a page of 1,000
 * configs of a few KiB each still fits.
 */
export const LIST_PAGE_MAX_BYTES = 4 * 1024 * 1024;

export const Cursor = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,1024}$/, "must be a next_cursor of an earlier page, unchanged")
  .describe("Opaque cursor from a previous page's `next_cursor`");

/** The query every list route accepts; routes with filters extend it. */
export const ListQuery = z.strictObject({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(LIST_LIMIT_MAX)
    .default(LIST_LIMIT_DEFAULT)
    .describe(`Page size, 1 to ${LIST_LIMIT_MAX} (default ${LIST_LIMIT_DEFAULT})`),
  cursor: Cursor.optional(),
});
export type ListQuery = z.infer<typeof ListQuery>;

/** A page of a list: newest first unless the route says otherwise. */
export function Page<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    next_cursor: z.string().nullable().describe("Pass as `cursor` to get the next page; null on the last page"),
  });
}
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** A run index in a query, whose bounds the OpenAPI document states (a pipe's would not show). */
export const RunIndexQuery = z.coerce
  .number()
  .int()
  .min(0)
  .max(RUN_INDEX_MAX)
  .describe("Run index within its variation, 0 to 2147483647");

/** A run index in a path: canonical decimal digits only, so `/runs/01` and `/runs/1e3` are refused. */
const RunIndexParam = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,9})$/, "must be a run index: a whole number from 0 to 2147483647")
  .transform(Number)
  .pipe(RunIndex.max(RUN_INDEX_MAX, "must be at most 2147483647"));

/** The path parameters that name an experiment, a variation and a run. */
export const ExperimentParams = z.strictObject({ exp: ExperimentId });
export const VariationParams = z.strictObject({ exp: ExperimentId, var: VariationKey });
export const RunParams = z.strictObject({ exp: ExperimentId, var: VariationKey, run: RunIndexParam });

/** The base path of one run's routes. */
export const RUN_PATH = "/v1/experiments/:exp/variations/:var/runs/:run";
