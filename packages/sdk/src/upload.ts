import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { type Asset, assetRoutes, type UploadPlan } from "@methodic/contract";
import { ChronicleError, errorFor, isTransient } from "./errors.js";
import { assertUnchanged, eachLimited, type LocalFile, listFiles, sha256File } from "./files.js";
import type { Transport } from "./transport.js";

export interface UploadDirectoryOptions {
  asset_type: string;
  name?: string;
  asset_config?: Record<string, unknown>;
  /** Pieces in flight at once; 8 unless given. */
  concurrency?: number;
  /** Where a crashed upload is found again (see `@methodic/sdk/upload-tracker`). */
  uploadTracker?: UploadTrackerLike;
}

/** What the upload needs of a tracker; `UploadTracker` in `@methodic/sdk/upload-tracker` is one. */
export interface UploadTrackerLike {
  find(key: TrackedKey): TrackedUpload | undefined;
  save(upload: TrackedUpload): void;
  markPiece(assetId: string, path: string, partNumber: number, etag: string): void;
  markDone(assetId: string): void;
}

export interface TrackedKey {
  baseUrl: string;
  directory: string;
  experimentId: string;
  variation: string;
  run: number;
}

export interface TrackedUpload extends TrackedKey {
  assetId: string;
  /** What the asset was created with, so that `resumePending` can start it again. */
  asset: { asset_type: string; name?: string; asset_config?: Record<string, unknown> };
  idempotencyKey: string;
  files: { path: string; size: number; mtimeMs: number; sha256: string }[];
  done: boolean;
  pieces: { path: string; partNumber: number; etag: string }[];
}

export interface UploadProgress {
  bytesSent: number;
  totalBytes: number;
}

interface Piece {
  file: LocalFile;
  partNumber?: number;
  offset: number;
  size: number;
  url: string;
  headers: Record<string, string>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const RETRIES = 5;

/**
 * A directory going up as one asset, in the background. `done` resolves to the ready asset; progress
 * and failure are also events ("progress", "error") for those who listen. A failure never surfaces as
 * an unhandled rejection.
 */
export class DirectoryUpload extends EventEmitter {
  readonly done: Promise<Asset>;
  /** The asset being uploaded, once it is created (or found again through the tracker). */
  assetId: string | undefined;
  private sent = 0;
  private total = 0;

  constructor(
    private readonly transport: Transport,
    private readonly key: TrackedKey,
    private readonly options: UploadDirectoryOptions,
    /** Resolves when it is this upload's turn to create its asset (creates keep the call order). */
    turn: Promise<void>,
    onCreated: () => void,
  ) {
    super();
    this.done = this.run(turn, onCreated);
    // `done` is the way to hear about failure; this keeps an unobserved one from crashing the process.
    this.done.catch((err: unknown) => {
      if (this.listenerCount("error") > 0) this.emit("error", err);
    });
  }

  private async run(turn: Promise<void>, onCreated: () => void): Promise<Asset> {
    let created = false;
    try {
      const files = await listFiles(this.key.directory);
      const tracker = this.options.uploadTracker;
      const tracked = tracker?.find(this.key);
      const known = new Map((tracked?.files ?? []).map((f) => [f.path, f]));
      // A file unchanged since it was tracked keeps its hash: no re-read on resume.
      const hashes = await Promise.all(
        files.map(async (file) => {
          const previous = known.get(file.path);
          return previous && previous.size === file.size && previous.mtimeMs === file.mtimeMs
            ? previous.sha256
            : sha256File(file.absolute);
        }),
      );
      const manifest = files.map((file, i) => ({ path: file.path, size: file.size, sha256: hashes[i] as string }));
      const sameAsTracked =
        tracked !== undefined &&
        tracked.files.length === manifest.length &&
        manifest.every((m) => known.get(m.path)?.sha256 === m.sha256);

      await turn;
      let asset: Asset;
      let plan: UploadPlan;
      if (tracked && sameAsTracked) {
        asset = await this.transport.call(assetRoutes.getAsset, { params: { id: tracked.assetId }, retry: true });
        if (asset.state === "ready") return asset;
        if (asset.state === "aborted") throw new ChronicleError(409, "asset_aborted", `Asset ${asset.id} was aborted.`);
        await this.reportTracked(asset.id, tracked.pieces);
        ({ upload: plan } = await this.transport.call(assetRoutes.planUploads, {
          params: { id: asset.id },
          retry: true,
        }));
      } else {
        const idempotencyKey = randomUUID();
        const answer = await this.transport.call(assetRoutes.createAsset, {
          params: { exp: this.key.experimentId, var: this.key.variation, run: String(this.key.run) },
          body: {
            asset_type: this.options.asset_type,
            ...(this.options.name !== undefined && { name: this.options.name }),
            ...(this.options.asset_config !== undefined && { asset_config: this.options.asset_config }),
            components: manifest,
          },
          headers: { "idempotency-key": idempotencyKey },
          retry: true,
        });
        asset = answer.asset;
        plan = answer.upload ?? { expires_at: new Date().toISOString(), components: [] };
        tracker?.save({
          ...this.key,
          assetId: asset.id,
          asset: {
            asset_type: this.options.asset_type,
            ...(this.options.name !== undefined && { name: this.options.name }),
            ...(this.options.asset_config !== undefined && { asset_config: this.options.asset_config }),
          },
          idempotencyKey,
          files: manifest.map((m, i) => ({ ...m, mtimeMs: files[i]!.mtimeMs })),
          done: false,
          pieces: [],
        });
      }
      created = true;
      onCreated();

      this.assetId = asset.id;
      this.total = asset.size;
      // What the server already holds (all of it for a resumed upload that had finished sending).
      this.sent = asset.size - piecesOf(plan, files).reduce((sum, piece) => sum + piece.size, 0);
      this.emit("progress", { bytesSent: this.sent, totalBytes: this.total } satisfies UploadProgress);
      await this.send(asset.id, files, plan);
      const { asset: ready } = await this.transport.call(assetRoutes.finalizeAsset, {
        params: { id: asset.id },
        retry: true,
      });
      tracker?.markDone(asset.id);
      return ready;
    } finally {
      if (!created) onCreated();
    }
  }

  /** Pieces sent before a crash but perhaps never reported: told to the server so they are not sent again. */
  private async reportTracked(assetId: string, pieces: TrackedUpload["pieces"]): Promise<void> {
    if (pieces.length === 0) return;
    const parts = pieces.map((p) => ({ path: p.path, part_number: p.partNumber, etag: p.etag }));
    await this.transport
      .call(assetRoutes.reportParts, { params: { id: assetId }, body: { parts }, retry: true })
      // A report the server cannot accept (a stale ETag) only means that piece is sent again.
      .catch(() => undefined);
  }

  private async send(assetId: string, files: LocalFile[], plan: UploadPlan): Promise<void> {
    const pieces = piecesOf(plan, files);
    let urls = new Map(pieces.map((p) => [pieceKey(p), p]));
    // URLs expire; a fresh plan (of what is still missing) signs them anew.
    const refresh = async () => {
      const { upload } = await this.transport.call(assetRoutes.planUploads, { params: { id: assetId }, retry: true });
      urls = new Map(piecesOf(upload, files).map((p) => [pieceKey(p), p]));
    };

    await eachLimited(pieces, this.options.concurrency ?? 8, async (piece) => {
      const etag = await this.put(piece, () => urls.get(pieceKey(piece)), refresh);
      this.options.uploadTracker?.markPiece(assetId, piece.file.path, piece.partNumber ?? 1, etag);
      await this.transport.call(assetRoutes.reportParts, {
        params: { id: assetId },
        body: {
          parts: [
            { path: piece.file.path, ...(piece.partNumber !== undefined && { part_number: piece.partNumber }), etag },
          ],
        },
        retry: true,
      });
      this.sent += piece.size;
      this.emit("progress", { bytesSent: this.sent, totalBytes: this.total } satisfies UploadProgress);
    });
  }

  /** One piece from disk to its URL, retried; an expired URL (403) gets a fresh plan once. */
  private async put(piece: Piece, current: () => Piece | undefined, refresh: () => Promise<void>): Promise<string> {
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      const target = current() ?? piece;
      await assertUnchanged(piece.file);
      let res: Response;
      try {
        const body = Readable.toWeb(
          createReadStream(
            piece.file.absolute,
            piece.size > 0 ? { start: piece.offset, end: piece.offset + piece.size - 1 } : { start: 0, end: -1 },
          ),
        ) as ReadableStream;
        const headers = Object.fromEntries(
          Object.entries(target.headers).filter(([k]) => k.toLowerCase() !== "content-length"),
        );
        res = await fetch(target.url, {
          method: "PUT",
          body,
          headers: { ...headers, "content-length": String(piece.size) },
          duplex: "half",
          // Node's fetch otherwise tees a streamed body to replay it on a redirect, and keeps the
          // unread half: each piece in flight would sit whole in memory (nodejs/undici#4058). A
          // presigned URL never redirects to where its signature would still hold anyway.
          redirect: "error",
          window: null,
        } as RequestInit);
      } catch (err) {
        if (attempt >= RETRIES)
          throw new ChronicleError(
            0,
            "network_error",
            `Uploading ${piece.file.path} failed: ${(err as Error).message}`,
          );
        await sleep(backoff(attempt));
        continue;
      }
      const text = await res.text();
      if (res.ok) {
        await assertUnchanged(piece.file);
        const etag = res.headers.get("etag");
        if (!etag) throw new ChronicleError(res.status, "internal", `Storage answered no ETag for ${piece.file.path}`);
        return etag;
      }
      if (res.status === 403 && !refreshed) {
        refreshed = true;
        await refresh();
        continue;
      }
      const err = errorFor(
        res.status,
        res.status >= 500 ? "unavailable" : "invalid_request",
        `Storage refused ${piece.file.path} (HTTP ${res.status}): ${text.slice(0, 300)}`,
      );
      if (!isTransient(err) || attempt >= RETRIES) throw err;
      await sleep(backoff(attempt));
    }
  }
}

/** Every PUT a plan asks for, each with the file it reads from. */
function piecesOf(plan: UploadPlan, files: LocalFile[]): Piece[] {
  return plan.components.flatMap((c): Piece[] => {
    const file = byPath(files, c.path);
    if (!("parts" in c)) return [{ file, offset: 0, size: file.size, url: c.url, headers: c.headers }];
    return c.parts.map((p) => ({
      file,
      partNumber: p.part_number,
      offset: p.offset,
      size: p.size,
      url: p.url,
      headers: p.headers ?? {},
    }));
  });
}

const backoff = (attempt: number) => Math.min(8_000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random());
const pieceKey = (p: Piece) => `${p.file.path}#${p.partNumber ?? ""}`;

function byPath(files: LocalFile[], path: string): LocalFile {
  const file = files.find((f) => f.path === path);
  if (!file) throw new Error(`the plan names ${path}, which is not a file of the directory`);
  return file;
}

/** Keeps asset creation in call order, so the newest checkpoint is the last one started. */
export class CreationQueue {
  private tail: Promise<void> = Promise.resolve();

  /** `turn` resolves when the previous upload has created its asset (or failed before it could). */
  next(): { turn: Promise<void>; release: () => void } {
    const turn = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    return { turn, release };
  }
}
