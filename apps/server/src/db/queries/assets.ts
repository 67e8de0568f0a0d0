import { and, eq, getTableColumns, inArray, lt, sql } from "drizzle-orm";
import type { RecordedPiece, StoredComponent } from "../../lib/pieces.js";
import type { Db } from "../client.js";
import { assetParts, assets, idempotencyKeys } from "../schema/index.js";

export type AssetRow = typeof assets.$inferSelect;
export type NewAsset = typeof assets.$inferInsert;

export async function insertAsset(db: Db, values: NewAsset): Promise<AssetRow> {
  const [row] = await db.insert(assets).values(values).returning();
  if (!row) throw new Error("insertAsset returned no row");
  return row;
}

export async function findAsset(db: Db, id: string, forUpdate = false): Promise<AssetRow | undefined> {
  const query = db.select().from(assets).where(eq(assets.id, id));
  const [row] = await (forUpdate ? query.for("update") : query);
  return row;
}

export function recordedPieces(db: Db, assetId: string): Promise<RecordedPiece[]> {
  const { path, partNumber, etag, size } = getTableColumns(assetParts);
  return db.select({ path, partNumber, etag, size }).from(assetParts).where(eq(assetParts.assetId, assetId));
}

/** How many pieces of each component (by path) are recorded; components with none are absent. */
export async function recordedCounts(db: Db, assetId: string): Promise<Map<string, number>> {
  const rows = await db
    .select({ path: assetParts.path, count: sql<number>`count(*)::int` })
    .from(assetParts)
    .where(eq(assetParts.assetId, assetId))
    .groupBy(assetParts.path);
  return new Map(rows.map((row) => [row.path, row.count]));
}

/** The recorded part numbers of these components (by path). */
export async function recordedPartNumbers(db: Db, assetId: string, paths: string[]): Promise<Map<string, Set<number>>> {
  const parts = new Map<string, Set<number>>();
  if (paths.length === 0) return parts;
  const rows = await db
    .select({ path: assetParts.path, partNumber: assetParts.partNumber })
    .from(assetParts)
    .where(and(eq(assetParts.assetId, assetId), inArray(assetParts.path, paths)));
  for (const { path, partNumber } of rows) {
    const numbers = parts.get(path) ?? new Set<number>();
    numbers.add(partNumber);
    parts.set(path, numbers);
  }
  return parts;
}

const INSERT_BATCH = 500;

/**
 * An asset's state and one component of its manifest, read in the database alone: a blob request
 * names one component, and a manifest may hold 10,000 of them. Undefined when there is no such asset;
 * the component is null past the manifest's end.
 */
export async function findComponent(db: Db, id: string, index: number) {
  const [row] = await db
    .select({
      state: assets.state,
      partSize: assets.partSize,
      component: sql<StoredComponent | null>`${assets.components} -> ${index}::int`,
    })
    .from(assets)
    .where(eq(assets.id, id));
  return row;
}

/** Locks an asset's row for the transaction; answers its state, undefined when there is no such asset. */
export async function lockState(tx: Db, id: string): Promise<AssetRow["state"] | undefined> {
  const [row] = await tx.select({ state: assets.state }).from(assets).where(eq(assets.id, id)).for("update");
  return row?.state;
}

/**
 * Inserts records of pieces (those recorded already stay as they are) and adds the new ones' bytes
 * to uploaded_size. For a transaction that holds the pending asset locked.
 */
export async function addPieces(tx: Db, assetId: string, pieces: RecordedPiece[]): Promise<void> {
  let bytes = 0;
  // A statement per 500 rows: building one of 10,000 rows (50,000 parameters) held the event loop
  // for hundreds of milliseconds on PostgreSQL; these yield to it between statements.
  for (let start = 0; start < pieces.length; start += INSERT_BATCH) {
    const added = await tx
      .insert(assetParts)
      .values(pieces.slice(start, start + INSERT_BATCH).map((piece) => ({ assetId, ...piece })))
      .onConflictDoNothing()
      .returning({ size: assetParts.size });
    bytes += added.reduce((sum, piece) => sum + piece.size, 0);
  }
  await addUploaded(tx, assetId, bytes);
}

/** Drops records of pieces and takes their bytes off uploaded_size, in a transaction holding the asset. */
export async function forgetPieces(
  tx: Db,
  assetId: string,
  pieces: Pick<RecordedPiece, "path" | "partNumber">[],
): Promise<void> {
  const byPath = new Map<string, number[]>();
  for (const { path, partNumber } of pieces) {
    const ofPath = byPath.get(path);
    if (ofPath) ofPath.push(partNumber);
    else byPath.set(path, [partNumber]);
  }
  let bytes = 0;
  for (const [path, partNumbers] of byPath) {
    const dropped = await tx
      .delete(assetParts)
      .where(
        and(eq(assetParts.assetId, assetId), eq(assetParts.path, path), inArray(assetParts.partNumber, partNumbers)),
      )
      .returning({ size: assetParts.size });
    bytes += dropped.reduce((sum, piece) => sum + piece.size, 0);
  }
  await addUploaded(tx, assetId, -bytes);
}

async function addUploaded(tx: Db, assetId: string, bytes: number): Promise<void> {
  if (bytes === 0) return;
  await tx
    .update(assets)
    .set({ uploadedSize: sql`${assets.uploadedSize} + ${bytes}` })
    .where(eq(assets.id, assetId));
}

/**
 * Records pieces of a pending asset (those recorded already stay as they are) and adds the new ones'
 * bytes to uploaded_size. Undefined when the asset is not pending.
 */
export async function recordPieces(db: Db, assetId: string, pieces: RecordedPiece[]): Promise<AssetRow | undefined> {
  return db.transaction(async (tx) => {
    if ((await lockState(tx, assetId)) !== "pending") return undefined;
    await addPieces(tx, assetId, pieces);
    return findAsset(tx, assetId);
  });
}

export async function markReady(db: Db, id: string): Promise<AssetRow> {
  const [row] = await db
    .update(assets)
    // Everything is in storage now, reported or not.
    .set({ state: "ready", finalizedAt: sql`now()`, uploadedSize: sql`${assets.size}` })
    .where(eq(assets.id, id))
    .returning();
  if (!row) throw new Error("markReady: the asset vanished inside its transaction");
  return row;
}

/** pending → aborted; undefined when the asset is missing or not pending. */
export async function markAborted(db: Db, id: string): Promise<AssetRow | undefined> {
  const [row] = await db
    .update(assets)
    .set({ state: "aborted" })
    .where(and(eq(assets.id, id), eq(assets.state, "pending")))
    .returning();
  return row;
}

/** Aborts every pending asset created before the TTL and answers them, for storage to be cleaned. */
export function abortAbandoned(db: Db, ttlS: number): Promise<AssetRow[]> {
  return db
    .update(assets)
    .set({ state: "aborted" })
    .where(and(eq(assets.state, "pending"), lt(assets.createdAt, sql`now() - make_interval(secs => ${ttlS})`)))
    .returning();
}

const IDEMPOTENCY_WINDOW = sql`interval '24 hours'`;

export async function findIdempotencyKey(db: Db, principal: string, key: string) {
  const [row] = await db
    .select()
    .from(idempotencyKeys)
    .where(
      and(
        eq(idempotencyKeys.principal, principal),
        eq(idempotencyKeys.key, key),
        sql`${idempotencyKeys.createdAt} > now() - ${IDEMPOTENCY_WINDOW}`,
      ),
    );
  return row;
}

/**
 * Claims a key for a request (taking over one older than the window). False when another request
 * holds it: a concurrent claim waits for that one's transaction, then sees it here.
 */
export async function claimIdempotencyKey(
  db: Db,
  values: { principal: string; key: string; requestHash: string; assetId: string },
): Promise<boolean> {
  const claimed = await db
    .insert(idempotencyKeys)
    .values(values)
    .onConflictDoUpdate({
      target: [idempotencyKeys.principal, idempotencyKeys.key],
      set: { requestHash: values.requestHash, assetId: values.assetId, createdAt: sql`now()` },
      setWhere: sql`${idempotencyKeys.createdAt} <= now() - ${IDEMPOTENCY_WINDOW}`,
    })
    .returning({ key: idempotencyKeys.key });
  return claimed.length > 0;
}

export async function deleteExpiredIdempotencyKeys(db: Db): Promise<void> {
  await db.delete(idempotencyKeys).where(sql`${idempotencyKeys.createdAt} <= now() - ${IDEMPOTENCY_WINDOW}`);
}
