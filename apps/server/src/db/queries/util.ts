import { LIST_PAGE_MAX_BYTES } from "@methodic/contract";
import { eq, lte, or, type SQL, sql } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import type { PageRows, SortKey } from "../../lib/cursor.js";
import type { Db } from "../client.js";

/** `updated_at` moves only when an update really changes something. */
export function touchIfChanged(updatedAt: PgColumn, changed: SQL[]): SQL {
  if (changed.length === 0) return sql`${updatedAt}`;
  return sql`case when ${sql.join(changed, sql` or `)} then now() else ${updatedAt} end`;
}

/**
 * A list's sort key: created_at first, then the tiebreaks that make it unique, by the names they are
 * selected as. Lists are newest first: every column descending.
 */
export type ListOrder = Record<string, PgColumn>;

export function newestFirst(order: Record<string, unknown>): SQL[] {
  return Object.values(order).map((column) => sql`${column} desc`);
}

/** The keyset condition for "after this cursor" in a list of this order. */
export function before(order: ListOrder, key: SortKey | undefined): SQL | undefined {
  if (!key) return undefined;
  const [createdAt, ...tiebreaks] = key;
  const values = [sql`${createdAt.toISOString()}::timestamptz`, ...tiebreaks.map((t) => sql`${t}`)];
  return sql`(${sql.join(Object.values(order), sql`, `)}) < (${sql.join(values, sql`, `)})`;
}

/**
 * The columns a list's page query adds, over the list's order: the listed bytes of the rows before
 * each row and through it, and whether any row comes after it.
 */
export function pageWindow(listedBytes: PgColumn, order: ListOrder) {
  const window = sql`order by ${sql.join(newestFirst(order), sql`, `)}`;
  const through = sql`sum(${listedBytes}) over (${window} rows unbounded preceding)`;
  return {
    bytesBefore: sql<number>`(${through} - ${listedBytes})`.mapWith(Number).as("bytes_before"),
    bytesThrough: sql<number>`${through}`.mapWith(Number).as("bytes_through"),
    moreAfter: sql<boolean>`(lead(1) over (${window}) is not null)`.as("more_after"),
  };
}

interface PageQuery {
  as(alias: string): unknown;
}

/**
 * One page of a newest-first list. `query` selects, in the list's order, up to `limit` rows after the
 * cursor with pageWindow's columns; of those, the page keeps the rows whose listed bytes, with those
 * before them, add up to LIST_PAGE_MAX_BYTES at most, and the first row whatever its size. The rows
 * it leaves out are never read past their listed bytes.
 */
export async function selectPage<Row>(db: Db, query: PageQuery, order: ListOrder): Promise<PageRows<Row>> {
  // The subquery's columns are those of `query`, by name.
  const page = query.as("page") as any;
  const rows = (await db
    .select()
    .from(page)
    .where(or(eq(page.bytesBefore, 0), lte(page.bytesThrough, LIST_PAGE_MAX_BYTES)))
    .orderBy(...newestFirst(Object.fromEntries(Object.keys(order).map((name) => [name, page[name]]))))) as (Row & {
    bytesBefore: number;
    bytesThrough: number;
    moreAfter: boolean;
  })[];
  return {
    rows: rows.map(({ bytesBefore: _, bytesThrough: __, moreAfter: ___, ...row }) => row as Row),
    more: rows.at(-1)?.moreAfter ?? false,
  };
}
