import { type SQL, sql } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import type { SortKey } from "../../lib/cursor.js";

/** `updated_at` moves only when an update really changes something. */
export function touchIfChanged(updatedAt: PgColumn, changed: SQL[]): SQL {
  if (changed.length === 0) return sql`${updatedAt}`;
  return sql`case when ${sql.join(changed, sql` or `)} then now() else ${updatedAt} end`;
}

/**
 * The keyset condition for "after this cursor" in a newest-first list sorted by `columns` (created_at
 * first, then the tiebreaks), all descending.
 */
export function before(columns: [PgColumn, ...PgColumn[]], key: SortKey | undefined): SQL | undefined {
  if (!key) return undefined;
  const [createdAt, ...tiebreaks] = key;
  const values = [sql`${createdAt.toISOString()}::timestamptz`, ...tiebreaks.map((t) => sql`${t}`)];
  return sql`(${sql.join(columns, sql`, `)}) < (${sql.join(values, sql`, `)})`;
}
