import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { type FileHandle, mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { ApiError, forbidden } from "../errors.js";
import type { Piece, RecordedPiece, StoredAsset, StoredComponent } from "../lib/pieces.js";
import { INCOMING, isMissing, PIECES, syncDir, writeHashed } from "./local-files.js";
import { checkFiles } from "./local-finalize.js";
import type { BlobStore, Completion, SignedRequest } from "./types.js";

/** What a signed local blob URL grants: one method on one object, one piece of it, until a time. */
export interface BlobGrant {
  method: "GET" | "PUT";
  assetId: string;
  index: number;
  partNumber: number;
  offset: number;
  size: number;
  /** Unix seconds. */
  expires: number;
}

/** The query of a signed blob URL, as text: anything off in it is a 403, not a validation error. */
export interface GrantQuery {
  part?: string | undefined;
  offset?: string | undefined;
  size?: string | undefined;
  expires?: string | undefined;
  sig?: string | undefined;
}

/** A piece in a temporary file of its own, hashed as it arrived and fsynced. */
export interface ReceivedPiece {
  path: string;
  sha256: string;
}

const WHOLE_NUMBER = /^(0|[1-9][0-9]{0,15})$/;

/**
 * The embedded default's storage, written and read through URLs the server signs for itself and
 * serves under /v1/blobs. Under `<data dir>/blobs/<asset id>/`, named by the server (never by a
 * client's path):
 * - `.incoming/<random>`: a piece on its way in (or a file finalize is assembling), a file of its own
 *   for each, so that nothing half-sent or unchecked is ever where a piece or a component belongs;
 * - `.pieces/<index>.<part number>`: a piece received whole, hashed and fsynced, moved here only while
 *   the asset was pending (under its row's lock);
 * - `<index>`: a component, moved here by finalize once its bytes match its SHA-256, and never
 *   written again: only removing the asset removes it.
 */
export class LocalBlobStore implements BlobStore {
  readonly kind = "local";
  /** The bytes pass through this server itself: no URL needs a part's checksum bound into it. */
  readonly requiresPartChecksums = false;

  private constructor(
    readonly root: string,
    private readonly secret: Buffer,
    private readonly publicUrl: () => string,
  ) {}

  /** The signing secret is generated once and kept in the data dir, so URLs survive restarts. */
  static async open(dataDir: string, publicUrl: () => string): Promise<LocalBlobStore> {
    const dir = resolve(dataDir);
    const root = join(dir, "blobs");
    await mkdir(root, { recursive: true });
    const secretPath = join(dir, "signing-secret");
    try {
      await writeFile(secretPath, randomBytes(32).toString("hex"), { mode: 0o600, flag: "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const secret = Buffer.from((await readFile(secretPath, "utf8")).trim(), "hex");
    if (secret.length < 32) throw new Error(`${secretPath} holds no usable secret; delete it to have one generated.`);
    return new LocalBlobStore(root, secret, publicUrl);
  }

  /** The file of a component: both parts are checked by the caller (a UUID and an integer). */
  pathOf(assetId: string, index: number): string {
    return join(this.root, assetId, String(index));
  }

  private mac(text: string): Buffer {
    return createHmac("sha256", this.secret).update(text).digest();
  }

  private grantText(g: BlobGrant): string {
    return [g.method, `${g.assetId}/${g.index}`, g.partNumber, g.offset, g.size, g.expires].join("\n");
  }

  sign(grant: BlobGrant): string {
    const query = new URLSearchParams({
      part: String(grant.partNumber),
      offset: String(grant.offset),
      size: String(grant.size),
      expires: String(grant.expires),
      sig: this.mac(this.grantText(grant)).toString("base64url"),
    });
    return `${this.publicUrl()}/v1/blobs/${grant.assetId}/${grant.index}?${query}`;
  }

  /** True when `signature` was made by this server for exactly this grant. Expiry is the caller's. */
  verify(grant: BlobGrant, signature: string): boolean {
    const expected = this.mac(this.grantText(grant));
    const given = Buffer.from(signature, "base64url");
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /** The grant a request claims, if its URL is one this server signed, for this method, and unexpired. */
  grantOf(method: BlobGrant["method"], assetId: string, index: number, query: GrantQuery): BlobGrant {
    const numbers = [query.part, query.offset, query.size, query.expires];
    if (!query.sig || !numbers.every((n) => n !== undefined && WHOLE_NUMBER.test(n))) {
      throw forbidden("This is not a valid signed URL: ask the API for a fresh one.");
    }
    const [partNumber, offset, size, expires] = numbers.map(Number) as [number, number, number, number];
    const grant = { method, assetId, index, partNumber, offset, size, expires };
    if (!this.verify(grant, query.sig)) {
      throw forbidden(`This URL's signature does not hold for a ${method}: ask the API for a fresh one.`);
    }
    if (expires * 1000 < Date.now()) throw forbidden("This signed URL has expired: ask the API for a fresh one.");
    return grant;
  }

  /** The folder of an asset's files: its components, and its pieces while it is pending. */
  dirOf(assetId: string): string {
    return join(this.root, assetId);
  }

  /** Where a received piece of a pending asset waits for finalize. */
  piecePath(assetId: string, index: number, partNumber: number): string {
    return join(this.dirOf(assetId), PIECES, `${index}.${partNumber}`);
  }

  /**
   * A new file of its own in the asset's incoming folder (a name nothing else uses, opened for this
   * caller alone), for bytes that are not in any place yet.
   */
  async tempFile(assetId: string): Promise<{ path: string; file: FileHandle }> {
    const dir = join(this.dirOf(assetId), INCOMING);
    const path = join(dir, randomBytes(12).toString("hex"));
    for (let attempt = 0; ; attempt++) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      try {
        return { path, file: await open(path, "wx", 0o600) };
      } catch (err) {
        // A finalize that just made the asset ready tidied the folder away; the caller finds it ready.
        if (!isMissing(err) || attempt > 0) throw err;
      }
    }
  }

  /**
   * Streams exactly the granted piece from `body` into a new temporary file, hashing it as it
   * arrives, and fsyncs it. Nothing of the asset changes: `place` puts the piece in its place, once
   * the asset is known to be pending still; `discard` removes what is left either way.
   */
  async receive(grant: BlobGrant, body: AsyncIterable<Buffer>): Promise<ReceivedPiece> {
    const { size } = grant;
    const { path, file } = await this.tempFile(grant.assetId);
    let received = false;
    try {
      const written = await writeHashed(file, body, (total) => {
        if (total > size)
          throw new ApiError("payload_too_large", `The body is longer than this piece's ${size} bytes.`);
      });
      if (written.size !== size) {
        throw new ApiError("invalid_request", `The body is ${written.size} bytes; this piece is ${size} bytes.`);
      }
      await file.sync();
      received = true;
      return { path, sha256: written.sha256 };
    } finally {
      await file.close();
      if (!received) await rm(path, { force: true });
    }
  }

  /** Moves a received piece into its place, durably. Only for a pending asset, whose row is locked. */
  async place(received: ReceivedPiece, grant: BlobGrant): Promise<void> {
    const target = this.piecePath(grant.assetId, grant.index, grant.partNumber);
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    await rename(received.path, target);
    await syncDir(dirname(target));
  }

  /** Removes a received piece's temporary file, unless `place` moved it. */
  async discard(received: ReceivedPiece): Promise<void> {
    await rm(received.path, { force: true });
  }

  /** A piece's ETag: a MAC of what was stored, so a report can be checked without reading the bytes. */
  etagOf(assetId: string, index: number, piece: Pick<Piece, "partNumber" | "size">): string {
    return `"${this.mac(`etag\n${assetId}/${index}\n${piece.partNumber}\n${piece.size}`).toString("hex").slice(0, 32)}"`;
  }

  async prepare(_assetId: string, components: StoredComponent[]): Promise<StoredComponent[]> {
    return components;
  }

  async signPut(asset: StoredAsset, index: number, piece: Piece, expiresAt: Date): Promise<SignedRequest> {
    const expires = Math.floor(expiresAt.getTime() / 1000);
    return { url: this.sign({ method: "PUT", assetId: asset.id, index, ...piece, expires }), headers: {} };
  }

  async signGet(asset: StoredAsset, index: number, expiresAt: Date): Promise<string> {
    const size = asset.components[index]?.size ?? 0;
    const expires = Math.floor(expiresAt.getTime() / 1000);
    return this.sign({ method: "GET", assetId: asset.id, index, partNumber: 0, offset: 0, size, expires });
  }

  acceptsReport(asset: StoredAsset, index: number, piece: RecordedPiece): boolean {
    const expected = this.etagOf(asset.id, index, piece);
    const strip = (etag: string) => etag.replace(/^"|"$/g, "");
    return strip(piece.etag) === strip(expected);
  }

  async discover(): Promise<RecordedPiece[]> {
    // Every piece this driver receives is recorded as it arrives: the records are the whole truth.
    return [];
  }

  check(asset: StoredAsset): Promise<Completion> {
    return checkFiles(this, asset);
  }

  async remove(asset: StoredAsset): Promise<void> {
    await rm(this.dirOf(asset.id), { recursive: true, force: true });
  }

  async ping(): Promise<void> {
    await stat(this.root);
  }
}
