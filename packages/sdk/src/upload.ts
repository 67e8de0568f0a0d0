import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { createReadStream } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { type Asset, MAX_PARTS, routes, type UploadPlan } from "@methodic/contract";
import { ChronicleError, errorFor, UnavailableError } from "./errors.js";
import { assertUnchanged, eachLimited, type LocalFile, listFiles } from "./files.js";
import { hashFiles } from "./hashing.js";
import { RetryNow, withRetries } from "./retry.js";
import type { Transport } from "./transport.js";

export interface UploadDirectoryOptions {
  asset_type: string;
  name?: string;
  asset_config?: Record<string, unknown>;
  /** Pieces in flight at once; 8 unless given. */
  concurrency?: number;
  /** Bytes per part of a file sent in parts; 64 MiB unless given, grown so no file needs over 10,000. */
  partSize?: number;
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
  /** Each file as it was hashed: a file in parts also with its part size and parts' SHA-256. */
  files: { path: string; size: number; mtimeMs: number; sha256: string; partSize?: number; partSha256?: string[] }[];
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
      const partSize = partSizeFor(files, this.options.partSize ?? DEFAULT_PART_SIZE);
      const manifest = await manifestOf(files, partSize, tracked);
      const sameAsTracked =
        tracked !== undefined &&
        tracked.files.length === manifest.length &&
        manifest.every((m, i) => tracked.files.find((f) => f.path === files[i]!.path)?.sha256 === m.sha256);

      await turn;
      let asset: Asset;
      let plan: UploadPlan;
      if (tracked && sameAsTracked) {
        asset = await this.transport.call(routes.getAsset, { params: { id: tracked.assetId } });
        if (asset.state === "ready") return asset;
        if (asset.state === "aborted") throw new ChronicleError(409, "asset_aborted", `Asset ${asset.id} was aborted.`);
        await this.reportTracked(asset.id, tracked.pieces);
        ({ upload: plan } = await this.transport.call(routes.planUploads, {
          params: { id: asset.id },
        }));
      } else {
        const idempotencyKey = randomUUID();
        const answer = await this.transport.call(routes.createAsset, {
          params: { exp: this.key.experimentId, var: this.key.variation, run: String(this.key.run) },
          body: {
            asset_type: this.options.asset_type,
            ...(this.options.name !== undefined && { name: this.options.name }),
            ...(this.options.asset_config !== undefined && { asset_config: this.options.asset_config }),
            part_size: partSize,
            components: manifest,
          },
          headers: { "idempotency-key": idempotencyKey },
        });
        asset = answer.asset;
        plan = answer.upload ?? { expires_at: new Date().toISOString(), components: [], truncated: false };
        tracker?.save({
          ...this.key,
          assetId: asset.id,
          asset: {
            asset_type: this.options.asset_type,
            ...(this.options.name !== undefined && { name: this.options.name }),
            ...(this.options.asset_config !== undefined && { asset_config: this.options.asset_config }),
          },
          idempotencyKey,
          files: manifest.map(({ part_sha256, ...m }, i) => ({
            ...m,
            mtimeMs: files[i]!.mtimeMs,
            ...(part_sha256 && { partSize, partSha256: part_sha256 }),
          })),
          done: false,
          pieces: [],
        });
      }
      created = true;
      onCreated();

      this.assetId = asset.id;
      this.total = asset.size;
      const byPath = new Map(files.map((file) => [file.path, file]));
      // What the server already holds (all of it for a resumed upload that had finished sending). A
      // page of a plan tells only of its own pieces: then the server's record says it.
      this.sent = plan.truncated
        ? (await this.transport.call(routes.getAsset, { params: { id: asset.id } })).uploaded_size
        : asset.size - piecesOf(plan, byPath).reduce((sum, piece) => sum + piece.size, 0);
      this.emit("progress", { bytesSent: this.sent, totalBytes: this.total } satisfies UploadProgress);
      await this.send(asset.id, byPath, plan);
      const { asset: ready } = await this.transport.call(routes.finalizeAsset, {
        params: { id: asset.id },
      });
      tracker?.markDone(asset.id);
      if (this.sent !== this.total) {
        // Pieces storage held unrecorded were never sent by us, and so never counted.
        this.sent = this.total;
        this.emit("progress", { bytesSent: this.sent, totalBytes: this.total } satisfies UploadProgress);
      }
      return ready;
    } finally {
      if (!created) onCreated();
    }
  }

  /** Pieces sent before a crash but perhaps never reported: told to the server so they are not sent again. */
  private async reportTracked(assetId: string, pieces: TrackedUpload["pieces"]): Promise<void> {
    // In batches well inside what one report takes (10,000 entries, 16 MiB).
    for (let start = 0; start < pieces.length; start += REPORT_BATCH) {
      const parts = pieces
        .slice(start, start + REPORT_BATCH)
        .map((p) => ({ path: p.path, part_number: p.partNumber, etag: p.etag }));
      await this.transport
        .call(routes.reportParts, { params: { id: assetId }, body: { parts } })
        // A report the server cannot accept (a stale ETag) only means those pieces are sent again.
        .catch(() => undefined);
    }
  }

  /**
   * Sends a plan, page by page: a truncated plan lists the first pieces still missing, and once they
   * are sent and reported the server's next page starts where it ended. Only one page is held at a
   * time, and the next is asked for once nothing is in flight.
   */
  private async send(assetId: string, files: Map<string, LocalFile>, first: UploadPlan): Promise<void> {
    let plan = first;
    let previous = new Set<string>();
    for (;;) {
      // A piece of the last page planned again was recorded by nobody; sending it again would not help.
      const pieces = piecesOf(plan, files).filter((piece) => !previous.has(pieceKey(piece)));
      await this.sendPage(assetId, files, pieces);
      // A page with nothing new would repeat itself: finalize then says what is missing.
      if (!plan.truncated || pieces.length === 0) return;
      previous = new Set(pieces.map(pieceKey));
      ({ upload: plan } = await this.transport.call(routes.planUploads, { params: { id: assetId } }));
    }
  }

  private async sendPage(assetId: string, files: Map<string, LocalFile>, pieces: Piece[]): Promise<void> {
    let urls = new Map(pieces.map((p) => [pieceKey(p), p]));
    // URLs expire; a fresh plan (of what is still missing, this page's pieces first) signs them anew.
    const refresh = async () => {
      const { upload } = await this.transport.call(routes.planUploads, { params: { id: assetId } });
      urls = new Map(piecesOf(upload, files).map((p) => [pieceKey(p), p]));
    };

    await eachLimited(pieces, this.options.concurrency ?? 8, async (piece) => {
      const etag = await this.put(piece, () => urls.get(pieceKey(piece)), refresh);
      this.options.uploadTracker?.markPiece(assetId, piece.file.path, piece.partNumber ?? 1, etag);
      await this.transport.call(routes.reportParts, {
        params: { id: assetId },
        body: {
          parts: [
            { path: piece.file.path, ...(piece.partNumber !== undefined && { part_number: piece.partNumber }), etag },
          ],
        },
      });
      this.sent += piece.size;
      this.emit("progress", { bytesSent: this.sent, totalBytes: this.total } satisfies UploadProgress);
    });
  }

  /** One piece from disk to its URL, retried; an expired URL (403) gets a fresh plan once. */
  private async put(piece: Piece, current: () => Piece | undefined, refresh: () => Promise<void>): Promise<string> {
    let refreshed = false;
    return withRetries(async () => {
      const target = current() ?? piece;
      await assertUnchanged(piece.file);
      let res: StorageAnswer;
      try {
        res = await putPiece(target.url, target.headers, piece);
      } catch (err) {
        throw new UnavailableError(
          0,
          "network_error",
          `Uploading ${piece.file.path} failed: ${(err as Error).message}`,
        );
      }
      if (res.status >= 200 && res.status < 300) {
        await assertUnchanged(piece.file);
        if (!res.etag)
          throw new ChronicleError(res.status, "internal", `Storage answered no ETag for ${piece.file.path}`);
        return res.etag;
      }
      const err = errorFor(
        res.status,
        res.status >= 500 ? "unavailable" : "invalid_request",
        `Storage refused ${piece.file.path} (HTTP ${res.status}): ${res.text.slice(0, 300)}`,
      );
      if (res.status === 403 && !refreshed) {
        refreshed = true;
        await refresh();
        throw new RetryNow(err);
      }
      throw err;
    });
  }
}

const MiB = 1024 * 1024;
const DEFAULT_PART_SIZE = 64 * MiB;
/** Pieces per report of what the tracker remembers: a page's worth, far inside the body limit. */
const REPORT_BATCH = 1000;

/** The part size for these files: the one asked for, grown to whole MiB so that none needs over 10,000. */
function partSizeFor(files: LocalFile[], wanted: number): number {
  const largest = Math.max(0, ...files.map((f) => f.size));
  return Math.max(wanted, Math.ceil(largest / MAX_PARTS / MiB) * MiB);
}

/**
 * The manifest of the directory: every file's size and SHA-256, and for a file larger than the part
 * size its parts' SHA-256 too. A file unchanged since the tracker saw it keeps its hashes: no re-read
 * on resume.
 */
async function manifestOf(files: LocalFile[], partSize: number, tracked: TrackedUpload | undefined) {
  const known = new Map((tracked?.files ?? []).map((f) => [f.path, f]));
  const kept = files.map((file) => {
    const previous = known.get(file.path);
    const same = previous && previous.size === file.size && previous.mtimeMs === file.mtimeMs;
    const partsKept = file.size <= partSize || (previous?.partSize === partSize && previous.partSha256);
    return same && partsKept ? { sha256: previous.sha256, partSha256: previous.partSha256 } : undefined;
  });
  const toHash = files.filter((_, i) => kept[i] === undefined);
  const fresh = await hashFiles(toHash, partSize);
  const hashed = new Map(toHash.map((file, i) => [file.path, fresh[i]!]));
  return files.map((file, i) => {
    const { sha256, partSha256 } = kept[i] ?? hashed.get(file.path)!;
    return { path: file.path, size: file.size, sha256, ...(partSha256 && { part_sha256: partSha256 }) };
  });
}

interface StorageAnswer {
  status: number;
  etag: string | undefined;
  /** The start of the body, for error messages. */
  text: string;
}

/** Bytes read from disk at a time for a piece: fewer, larger chunks cost less CPU per byte sent. */
const READ_CHUNK = 1024 * 1024;
/** A storage server silent for this long is gone; the PUT fails and is retried. */
const IDLE_TIMEOUT_MS = 300_000;

/**
 * PUTs one byte range of a file to a signed URL with node:http(s): the file stream is piped into the
 * request, so memory holds a chunk or two per piece, and no redirect is followed (a presigned URL has
 * none worth following). Cheaper per byte than fetch, whose body goes through web streams: on a
 * machine whose cores the storage server shares, that CPU is upload throughput.
 */
function putPiece(url: string, planHeaders: Record<string, string>, piece: Piece): Promise<StorageAnswer> {
  const headers = Object.fromEntries(Object.entries(planHeaders).filter(([k]) => k.toLowerCase() !== "content-length"));
  headers["content-length"] = String(piece.size);
  return new Promise<StorageAnswer>((resolve, reject) => {
    const send = url.startsWith("https:") ? httpsRequest : httpRequest;
    const req = send(url, { method: "PUT", headers }, (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      res.on("data", (chunk: Buffer) => {
        if (kept < 4096) {
          chunks.push(chunk);
          kept += chunk.length;
        }
      });
      res.on("error", reject);
      res.on("end", () => {
        const etag = res.headers.etag;
        resolve({
          status: res.statusCode ?? 0,
          etag: Array.isArray(etag) ? etag[0] : etag,
          text: Buffer.concat(chunks).toString("utf8"),
        });
      });
    });
    req.on("error", reject);
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new Error("storage did not answer in time")));
    if (piece.size === 0) {
      req.end();
      return;
    }
    const body = createReadStream(piece.file.absolute, {
      start: piece.offset,
      end: piece.offset + piece.size - 1,
      highWaterMark: READ_CHUNK,
    });
    body.on("error", (err) => req.destroy(err));
    // A request that ends early (refused, cut off) stops reading the file, and closes it.
    req.on("close", () => body.destroy());
    body.pipe(req);
  });
}

/** Every PUT a plan asks for, each with the file it reads from. */
function piecesOf(plan: UploadPlan, files: Map<string, LocalFile>): Piece[] {
  return plan.components.flatMap((c): Piece[] => {
    const file = files.get(c.path);
    if (!file) throw new Error(`the plan names ${c.path}, which is not a file of the directory`);
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

const pieceKey = (p: Piece) => `${p.file.path}#${p.partNumber ?? ""}`;

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
