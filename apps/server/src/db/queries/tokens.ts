import { and, eq, isNull, sql } from "drizzle-orm";
import type { PageRows, SortKey } from "../../lib/cursor.js";
import type { Db } from "../client.js";
import { tokens } from "../schema/index.js";
import { before, newestFirst } from "./util.js";

export type TokenRow = typeof tokens.$inferSelect;
export type NewToken = Pick<typeof tokens.$inferInsert, "id" | "name" | "scope" | "secretHash">;

export async function insertToken(db: Db, values: NewToken): Promise<TokenRow> {
  const [row] = await db.insert(tokens).values(values).returning();
  if (!row) throw new Error("insertToken returned no row");
  return row;
}

export async function findActiveTokenByHash(db: Db, secretHash: string): Promise<TokenRow | undefined> {
  const [row] = await db
    .select()
    .from(tokens)
    .where(and(eq(tokens.secretHash, secretHash), isNull(tokens.revokedAt)));
  return row;
}

const listOrder = { createdAt: tokens.createdAt, id: tokens.id };

/** Tokens have no free-form fields: a page is cut by its limit alone. */
export async function listActiveTokens(db: Db, limit: number, after: SortKey | undefined): Promise<PageRows<TokenRow>> {
  const rows = await db
    .select()
    .from(tokens)
    .where(and(isNull(tokens.revokedAt), before(listOrder, after)))
    .orderBy(...newestFirst(listOrder))
    .limit(limit + 1);
  return { rows: rows.slice(0, limit), more: rows.length > limit };
}

/** False when no such token exists; revoking a revoked token changes nothing. */
export async function revokeToken(db: Db, id: string): Promise<boolean> {
  const [row] = await db
    .update(tokens)
    .set({ revokedAt: sql`coalesce(${tokens.revokedAt}, now())` })
    .where(eq(tokens.id, id))
    .returning({ id: tokens.id });
  return row !== undefined;
}
