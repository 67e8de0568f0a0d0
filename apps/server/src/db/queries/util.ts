import { type SQL, sql } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import type { SortKey } from "../../lib/cursor.js";

/** `updated_at` moves only when an update really changes something. */
export function touchIfChanged(updatedAt: PgColumn, changed: SQL[]): SQL {
  if (changed.length === 0) return sql`${updatedAt}`;
  return sql`case when ${sql.join(changed, sql` or `)} then now() else ${updatedAt} end`;
}

/** The keyset condition for "after this cursor" in a newest-first list. */
export function before(createdAt: PgColumn, tiebreak: PgColumn, key: SortKey | undefined): SQL | undefined {
  return key && sql`(${createdAt}, ${tiebreak}) < (${key[0].toISOString()}::timestamptz, ${key[1]})`;
}
