import { and, desc, eq, isNull, sql } from "drizzle-orm";
import type { SortKey } from "../../lib/cursor.js";
import type { Db } from "../client.js";
import { tokens } from "../schema/index.js";
import { before } from "./util.js";

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

export function listActiveTokens(db: Db, limit: number, after: SortKey | undefined): Promise<TokenRow[]> {
  return db
    .select()
    .from(tokens)
    .where(and(isNull(tokens.revokedAt), before([tokens.createdAt, tokens.id], after)))
    .orderBy(desc(tokens.createdAt), desc(tokens.id))
    .limit(limit);
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
