import type { Page } from "@methodic/contract";
import { invalidRequest } from "../errors.js";

/**
 * Keyset pagination. A cursor is the sort key of the last item of a page, so the next page starts
 * right after it: items created meanwhile sort before it and never shift what is left to walk.
 * A sort key is a creation time and the tiebreaks that make it unique.
 */
export type Tiebreak = string | number;
export type SortKey = [createdAt: Date, ...tiebreaks: Tiebreak[]];

/** What each tiebreak of a list's sort key is. */
export type KeyShape = ("string" | "number")[];

export function encodeCursor([createdAt, ...tiebreaks]: SortKey): string {
  return Buffer.from(JSON.stringify([createdAt.toISOString(), ...tiebreaks])).toString("base64url");
}

export function decodeCursor(cursor: string | undefined, shape: KeyShape = ["string"]): SortKey | undefined {
  if (cursor === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(value) && value.length === shape.length + 1 && typeof value[0] === "string") {
      const createdAt = new Date(value[0]);
      const tiebreaks = value.slice(1);
      if (!Number.isNaN(createdAt.getTime()) && tiebreaks.every((t, i) => typeof t === shape[i])) {
        return [createdAt, ...(tiebreaks as Tiebreak[])];
      }
    }
  } catch {
    // falls through to the error below
  }
  throw invalidRequest("The cursor is not valid: pass a next_cursor from an earlier page unchanged.", {
    fields: [{ in: "query", path: "cursor", message: "not a cursor this API issued" }],
  });
}

/** Turns `limit + 1` rows, newest first, into a page and the cursor after it. */
export function toPage<Row, Item>(
  rows: Row[],
  limit: number,
  keyOf: (row: Row) => SortKey,
  toItem: (row: Row) => Item,
): Page<Item> {
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  const last = shown.at(-1);
  return {
    items: shown.map(toItem),
    next_cursor: more && last !== undefined ? encodeCursor(keyOf(last)) : null,
  };
}
