import type { Page } from "@methodic/contract";
import type { z } from "zod";
import { invalidRequest } from "../errors.js";

/**
 * Keyset pagination. A cursor is the sort key of the last item of a page, so the next page starts
 * right after it: items created meanwhile sort before it and never shift what is left to walk.
 * A sort key is a creation time and the tiebreaks that make it unique.
 */
export type Tiebreak = string | number;
export type SortKey = [createdAt: Date, ...tiebreaks: Tiebreak[]];

/** What each tiebreak of a list's sort key is: the contract's schema of that column. */
export type KeyShape = readonly z.ZodType<Tiebreak>[];

export function encodeCursor([createdAt, ...tiebreaks]: SortKey): string {
  return Buffer.from(JSON.stringify([createdAt.toISOString(), ...tiebreaks])).toString("base64url");
}

/** A creation time as the database can compare it: a real instant of the years 1 to 9999. */
function timeOf(value: unknown): Date | undefined {
  if (typeof value !== "string") return undefined;
  const time = new Date(value);
  if (Number.isNaN(time.getTime()) || time.toISOString() !== value) return undefined;
  const year = time.getUTCFullYear();
  return year >= 1 && year <= 9999 ? time : undefined;
}

function keyOf(cursor: string, shape: KeyShape): SortKey | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== shape.length + 1) return undefined;
  const createdAt = timeOf(value[0]);
  if (!createdAt) return undefined;
  const tiebreaks: Tiebreak[] = [];
  for (const [i, schema] of shape.entries()) {
    const parsed = schema.safeParse(value[i + 1]);
    if (!parsed.success) return undefined;
    tiebreaks.push(parsed.data);
  }
  const key: SortKey = [createdAt, ...tiebreaks];
  // Only what encodeCursor makes of a key: no other spelling of one, no padding, nothing after it.
  return encodeCursor(key) === cursor ? key : undefined;
}

/**
 * The sort key a cursor names, each part checked against the list's key shape, so that whatever a
 * client makes up reaches the database as a key of the right types and ranges, or is refused.
 */
export function decodeCursor(cursor: string | undefined, shape: KeyShape): SortKey | undefined {
  if (cursor === undefined) return undefined;
  const key = keyOf(cursor, shape);
  if (key) return key;
  throw invalidRequest("The cursor is not valid: pass a next_cursor from an earlier page of this list unchanged.", {
    fields: [{ in: "query", path: "cursor", message: "is not a cursor of this list" }],
  });
}

/** A page's rows, and whether the list goes on after them. */
export interface PageRows<Row> {
  rows: Row[];
  more: boolean;
}

/** A page's items, and the cursor after the last one when the list goes on. */
export function toPage<Row, Item>(
  { rows, more }: PageRows<Row>,
  keyOf: (row: Row) => SortKey,
  toItem: (row: Row) => Item,
): Page<Item> {
  const last = rows.at(-1);
  return {
    items: rows.map(toItem),
    next_cursor: more && last !== undefined ? encodeCursor(keyOf(last)) : null,
  };
}
