import { createHash } from "node:crypto";
import {
  type Asset,
  type CreateAssetBody,
  type CreatedAsset,
  type Download,
  INLINE_CONTENT_MAX_BYTES,
  type ReportPartsBody,
  type UploadPlan,
} from "@methodic/contract";
import { v7 as uuidv7 } from "uuid";
import type { Config } from "../config.js";
import type { Db } from "../db/client.js";
import * as q from "../db/queries/assets.js";
import { findRun } from "../db/queries/runs.js";
import { ApiError, invalidRequest } from "../errors.js";
import {
  isMultipart,
  type PendingPieces,
  type Piece,
  pageComponents,
  pagePieces,
  pieceOf,
  type RecordedPiece,
  type StoredAsset,
  withoutPieces,
} from "../lib/pieces.js";
import type { BlobStore, Verdict } from "../storage/types.js";
import { manifestOf } from "./manifest.js";
import { missingRun, type RunRef } from "./runs.service.js";

/** What the asset routes work with. */
export interface AssetContext {
  db: Db;
  storage: BlobStore;
  config: Pick<Config, "partSize" | "uploadUrlTtlS" | "planMaxPieces">;
}

export function toAsset(row: q.AssetRow): Asset {
  return {
    id: row.id,
    asset_type: row.assetType,
    name: row.name,
    state: row.state,
    experiment_id: row.experimentId,
    variation: row.variation,
    run: row.run,
    asset_config: row.assetConfig,
    inline: row.inline,
    size: row.size,
    uploaded_size: row.uploadedSize,
    components: row.components.map(({ path, size, sha256 }) => ({ path, size, sha256 })),
    created_at: row.createdAt.toISOString(),
    finalized_at: row.finalizedAt?.toISOString() ?? null,
  };
}

const stored = (row: q.AssetRow): StoredAsset => ({
  id: row.id,
  partSize: row.partSize ?? 0,
  components: row.components,
});

export const assetNotFound = (id: string) => new ApiError("asset_not_found", `Asset ${id} does not exist.`);
const assetAborted = (id: string) =>
  new ApiError("asset_aborted", `Asset ${id} was aborted; create a new asset to upload again.`);

function expiry(ctx: AssetContext): Date {
  return new Date(Date.now() + ctx.config.uploadUrlTtlS * 1000);
}

/** A page of an upload plan: pieces to send, and whether more remain after them. */
interface Page {
  pending: PendingPieces[];
  truncated: boolean;
}

/**
 * The first pieces without a record, at most METHODIC_PLAN_MAX_PIECES, in manifest order: a plan of
 * a file of 10,000 parts, or of 10,000 files, is signed and sent a page at a time (docs/api.md, Limits).
 * Recorded pieces are counted, not read, except those of the few components the page reaches into.
 */
async function unrecordedPage(ctx: AssetContext, db: Db, asset: StoredAsset): Promise<Page> {
  const limit = ctx.config.planMaxPieces;
  const counts = await q.recordedCounts(db, asset.id);
  const { indices, truncated } = pageComponents(asset, counts, limit);
  const begun = indices.map((index) => asset.components[index]!.path).filter((path) => counts.has(path));
  const recordedParts = await q.recordedPartNumbers(db, asset.id, begun);
  return { pending: pagePieces(asset, indices, recordedParts, limit), truncated };
}

/** A page of pieces with fresh URLs. */
async function planFor(ctx: AssetContext, asset: StoredAsset, page: Page): Promise<UploadPlan> {
  const expiresAt = expiry(ctx);
  const sign = (index: number, piece: Piece) => ctx.storage.signPut(asset, index, piece, expiresAt);
  const components = await Promise.all(
    page.pending.map(async ({ index, component, pieces }) => {
      if (!isMultipart(component, asset.partSize)) {
        const { url, headers } = await sign(index, pieces[0]!);
        return { path: component.path, url, method: "PUT" as const, headers };
      }
      const parts = await Promise.all(
        pieces.map(async (piece) => {
          const { url, headers } = await sign(index, piece);
          return {
            part_number: piece.partNumber,
            offset: piece.offset,
            size: piece.size,
            url,
            ...(Object.keys(headers).length > 0 && { headers }),
          };
        }),
      );
      return { path: component.path, part_size: asset.partSize, parts };
    }),
  );
  return { expires_at: expiresAt.toISOString(), components, truncated: page.truncated };
}

const nothingToSend = (ctx: AssetContext): UploadPlan => ({
  expires_at: expiry(ctx).toISOString(),
  components: [],
  truncated: false,
});

function incomplete({ missing, mismatched }: Pick<Verdict, "missing" | "mismatched">): ApiError {
  const first = missing[0];
  const wrong = mismatched[0];
  const more = mismatched.length > 1 ? ` and ${mismatched.length - 1} more` : "";
  return new ApiError(
    "asset_incomplete",
    `${missing.length} component(s) are not fully uploaded${first ? `, starting with '${first.path}'` : ""}` +
      (wrong ? `; the bytes received for '${wrong}'${more} do not match its sha256 and must be sent again` : "") +
      "; POST /uploads for a plan of what is missing.",
    { missing: missing.map(({ path, partNumbers }) => ({ path, ...(partNumbers && { part_numbers: partNumbers }) })) },
  );
}

export interface Idempotency {
  principal: string;
  key: string;
}

export async function createAsset(
  ctx: AssetContext,
  ref: RunRef,
  body: CreateAssetBody,
  idempotency: Idempotency | undefined,
): Promise<CreatedAsset> {
  const inline = body.content !== undefined;
  let contentSize = 0;
  if (inline) {
    contentSize = Buffer.byteLength(JSON.stringify(body.content));
    if (contentSize > INLINE_CONTENT_MAX_BYTES) {
      throw new ApiError(
        "payload_too_large",
        `Inline content is ${contentSize} bytes, over the 1 MiB limit: upload it as a component asset ` +
          "(components: [{path, size, sha256}]) instead.",
      );
    }
  }
  const requestHash = createHash("sha256")
    .update(JSON.stringify([ref, body]))
    .digest("hex");

  return ctx.db.transaction(async (tx) => {
    const run = await findRun(tx, { experimentId: ref.exp, variation: ref.var, run: ref.run }, "share");
    if (!run) throw await missingRun(tx, ref);
    // A retry answers what the first request got, even once the run has ended since.
    if (idempotency && (await q.findIdempotencyKey(tx, idempotency.principal, idempotency.key))) {
      return replay(ctx, tx, idempotency, requestHash);
    }
    if (run.state === "succeeded" || run.state === "failed") {
      throw new ApiError(
        "run_finished",
        `Run ${ref.run} of '${ref.var}' has ${run.state}: assets are created by running (or lost) runs.`,
      );
    }

    const id = uuidv7();
    if (idempotency) {
      const claimed = await q.claimIdempotencyKey(tx, { ...idempotency, requestHash, assetId: id });
      if (!claimed) return replay(ctx, tx, idempotency, requestHash);
    }

    if (inline) {
      const row = await q.insertAsset(tx, {
        id,
        ...ref3(ref),
        assetType: body.asset_type,
        name: body.name ?? null,
        state: "ready",
        inline: true,
        content: body.content,
        assetConfig: body.asset_config ?? {},
        size: contentSize,
        uploadedSize: contentSize,
        finalizedAt: new Date(),
      });
      return { asset: toAsset(row), upload: null };
    }

    const manifest = manifestOf(
      { part_size: body.part_size, components: body.components ?? [] },
      ctx.config.partSize,
      ctx.storage.requiresPartChecksums,
    );
    const components = await ctx.storage.prepare(id, manifest.components, manifest.partSize);
    const prepared = { id, partSize: manifest.partSize, components };
    let row: q.AssetRow;
    try {
      row = await q.insertAsset(tx, {
        id,
        ...ref3(ref),
        assetType: body.asset_type,
        name: body.name ?? null,
        inline: false,
        assetConfig: body.asset_config ?? {},
        components,
        size: components.reduce((sum, c) => sum + c.size, 0),
        partSize: manifest.partSize,
      });
    } catch (err) {
      // Without its row nothing would ever abort what storage started.
      await ctx.storage.remove(prepared).catch(() => {});
      throw err;
    }
    const asset = stored(row);
    return { asset: toAsset(row), upload: await planFor(ctx, asset, await unrecordedPage(ctx, tx, asset)) };
  });
}

const ref3 = (ref: RunRef) => ({ experimentId: ref.exp, variation: ref.var, run: ref.run });

/** A create repeated with its Idempotency-Key answers the asset the first one made. */
async function replay(ctx: AssetContext, db: Db, idempotency: Idempotency, requestHash: string): Promise<CreatedAsset> {
  const first = await q.findIdempotencyKey(db, idempotency.principal, idempotency.key);
  if (!first) throw new Error("replay: the idempotency key vanished");
  if (first.requestHash !== requestHash) {
    throw new ApiError("already_exists", "This Idempotency-Key was used for a different request within 24 hours.");
  }
  const row = await q.findAsset(db, first.assetId);
  if (!row) throw assetNotFound(first.assetId);
  const upload = row.inline ? null : await planOf(ctx, db, row);
  return { asset: toAsset(row), upload };
}

/** A plan of what is missing; pieces storage turns out to hold are recorded on the way. */
async function planOf(ctx: AssetContext, db: Db, row: q.AssetRow): Promise<UploadPlan> {
  if (row.state !== "pending") return nothingToSend(ctx);
  const asset = stored(row);
  for (;;) {
    const page = await unrecordedPage(ctx, db, asset);
    const found = await ctx.storage.discover(asset, page.pending);
    if (found.length === 0) return planFor(ctx, asset, page);
    if (!(await q.recordPieces(db, row.id, found))) {
      // Finalized or aborted meanwhile: nothing is to be sent any more.
      if ((await q.findAsset(db, row.id))?.state === "aborted") throw assetAborted(row.id);
      return nothingToSend(ctx);
    }
    const pending = withoutPieces(page.pending, found);
    // Storage held the whole page: the next one is planned instead of an empty page.
    if (pending.length > 0 || !page.truncated) return planFor(ctx, asset, { pending, truncated: page.truncated });
  }
}

export async function getAsset(db: Db, id: string): Promise<Asset> {
  const row = await q.findAsset(db, id);
  if (!row) throw assetNotFound(id);
  return toAsset(row);
}

export async function getContent(db: Db, id: string): Promise<unknown> {
  const row = await q.findAsset(db, id);
  if (!row) throw assetNotFound(id);
  if (!row.inline) {
    throw new ApiError("asset_not_inline", `Asset ${id} holds files, not inline JSON: read it through /download.`);
  }
  return row.content;
}

export async function planUploads(ctx: AssetContext, id: string): Promise<{ upload: UploadPlan }> {
  const row = await q.findAsset(ctx.db, id);
  if (!row) throw assetNotFound(id);
  if (row.state === "aborted") throw assetAborted(id);
  return { upload: await planOf(ctx, ctx.db, row) };
}

/** Checks reported pieces against the manifest (and the driver, where it can tell) and records them. */
export async function reportParts(ctx: AssetContext, id: string, body: ReportPartsBody): Promise<{ asset: Asset }> {
  const row = await q.findAsset(ctx.db, id);
  if (!row) throw assetNotFound(id);
  if (row.state === "aborted") throw assetAborted(id);
  if (row.state === "ready") return { asset: toAsset(row) };
  const asset = stored(row);
  // Each entry is checked in constant time: a report of 10,000 pieces costs 10,000 steps.
  const indexOf = new Map(asset.components.map((component, index) => [component.path, index]));
  const pieces = body.parts.map((reported, i): RecordedPiece => {
    const index = indexOf.get(reported.path);
    const component = index === undefined ? undefined : asset.components[index];
    const field = (path: string, message: string) =>
      invalidRequest(`Invalid request: body.parts.${i}.${path} ${message}.`, {
        fields: [{ in: "body", path: `parts.${i}.${path}`, message }],
      });
    if (index === undefined || !component) throw field("path", "is not a component of this asset");
    const multipart = isMultipart(component, asset.partSize);
    if (multipart && reported.part_number === undefined) {
      throw field("part_number", "is required for a multipart component");
    }
    const piece = pieceOf(component, asset.partSize, reported.part_number ?? 1);
    if (!piece) throw field("part_number", "is not a part of this component");
    const recorded = { path: component.path, partNumber: piece.partNumber, etag: reported.etag, size: piece.size };
    if (!ctx.storage.acceptsReport(asset, index, recorded)) {
      throw field("etag", "is not the ETag storage gave for this piece");
    }
    return recorded;
  });
  const updated = await q.recordPieces(ctx.db, id, pieces);
  // Finalized or aborted meanwhile: answer it as it is now.
  return { asset: toAsset(updated ?? (await q.findAsset(ctx.db, id)) ?? row) };
}

/** Finalizes in flight, by storage (one per app) and asset id: a call while one runs gets its answer. */
const finalizing = new WeakMap<BlobStore, Map<string, Promise<{ asset: Asset }>>>();

/**
 * Verifies every component and flips pending → ready, once, however many calls race: the calls of
 * one process share one finalize (and its answer), those of several meet at the asset row's lock.
 */
export function finalizeAsset(ctx: AssetContext, id: string): Promise<{ asset: Asset }> {
  const running = finalizing.get(ctx.storage) ?? new Map<string, Promise<{ asset: Asset }>>();
  finalizing.set(ctx.storage, running);
  const inFlight = running.get(id);
  if (inFlight) return inFlight;
  const started = finalizeOnce(ctx, id).finally(() => running.delete(id));
  running.set(id, started);
  return started;
}

async function finalizeOnce(ctx: AssetContext, id: string): Promise<{ asset: Asset }> {
  const row = await q.findAsset(ctx.db, id);
  if (!row) throw assetNotFound(id);
  if (row.state === "aborted") throw assetAborted(id);
  if (row.state === "ready") return { asset: toAsset(row) };
  // The slow part (the local disk reads and hashes files) holds no lock; the transaction only moves.
  const completion = await ctx.storage.check(stored(row));
  let ready = false;
  try {
    const outcome = await ctx.db.transaction(async (tx): Promise<{ row: q.AssetRow } | { verdict: Verdict }> => {
      const state = await q.lockState(tx, id);
      if (!state) throw assetNotFound(id);
      if (state === "aborted") throw assetAborted(id);
      if (state === "ready") return { row: (await q.findAsset(tx, id)) ?? row };
      const verdict = await completion.complete(await q.recordedPieces(tx, id));
      if (verdict.forget.length > 0) await q.forgetPieces(tx, id, verdict.forget);
      // Forgetting what storage does not hold commits with the 409, so that /uploads plans it again.
      if (verdict.missing.length > 0) return { verdict };
      return { row: await q.markReady(tx, id) };
    });
    if ("verdict" in outcome) throw incomplete(outcome.verdict);
    ready = true;
    return { asset: toAsset(outcome.row) };
  } finally {
    // Only temporary files: a failure to remove one leaves litter in a folder its asset's end removes.
    await completion.release(ready).catch(() => {});
  }
}

export async function abortAsset(ctx: AssetContext, id: string, onCleanupError: (err: unknown) => void) {
  const aborted = await q.markAborted(ctx.db, id);
  if (aborted) {
    await ctx.storage.remove(stored(aborted)).catch(onCleanupError);
    return { asset: toAsset(aborted) };
  }
  const row = await q.findAsset(ctx.db, id);
  if (!row) throw assetNotFound(id);
  if (row.state === "ready") {
    throw new ApiError("asset_state_conflict", `Asset ${id} is ready; a ready asset cannot be aborted.`);
  }
  return { asset: toAsset(row) };
}

export async function download(ctx: AssetContext, id: string): Promise<Download> {
  const row = await q.findAsset(ctx.db, id);
  if (!row) throw assetNotFound(id);
  if (row.state !== "ready") {
    throw new ApiError("asset_not_ready", `Asset ${id} is ${row.state}; only ready assets can be downloaded.`);
  }
  const expiresAt = expiry(ctx);
  const asset = stored(row);
  return {
    expires_at: expiresAt.toISOString(),
    components: await Promise.all(
      row.components.map(async (c, index) => ({
        path: c.path,
        size: c.size,
        sha256: c.sha256,
        url: await ctx.storage.signGet(asset, index, expiresAt),
      })),
    ),
  };
}

/** Pending assets older than the TTL: aborted, and their storage cleaned. */
export async function sweepAbandoned(ctx: AssetContext, ttlS: number, onCleanupError: (err: unknown) => void) {
  const aborted = await q.abortAbandoned(ctx.db, ttlS);
  for (const row of aborted) await ctx.storage.remove(stored(row)).catch(onCleanupError);
  await q.deleteExpiredIdempotencyKeys(ctx.db);
  return aborted.map((row) => row.id);
}
