import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { constants } from "node:fs";
import { mkdir, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { ApiError, forbidden } from "../errors.js";
import {
  type MissingPiece,
  missingOf,
  type Piece,
  type RecordedPiece,
  type StoredAsset,
  type StoredComponent,
} from "../lib/pieces.js";
import type { BlobStore, SignedRequest } from "./types.js";

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

const WHOLE_NUMBER = /^(0|[1-9][0-9]{0,15})$/;

/**
 * The embedded default's storage: components are files under `<data dir>/blobs/<asset id>/<index>`,
 * named by the server (never by a client's path), written and read through URLs the server signs
 * for itself and serves under /v1/blobs.
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

  /**
   * Writes exactly the granted piece from `body` at its offset as it arrives (each chunk written before
   * the next is read, so memory holds one chunk), and fsyncs it before it counts. Answers its ETag.
   */
  async write(grant: BlobGrant, body: AsyncIterable<Buffer>): Promise<string> {
    const { offset, size } = grant;
    const path = this.pathOf(grant.assetId, grant.index);
    await mkdir(dirname(path), { recursive: true });
    const file = await open(path, constants.O_WRONLY | constants.O_CREAT, 0o600);
    try {
      let received = 0;
      for await (const chunk of body) {
        if (received + chunk.length > size) {
          throw new ApiError("payload_too_large", `The body is longer than this piece's ${size} bytes.`);
        }
        for (let written = 0; written < chunk.length; ) {
          const { bytesWritten } = await file.write(
            chunk,
            written,
            chunk.length - written,
            offset + received + written,
          );
          written += bytesWritten;
        }
        received += chunk.length;
      }
      if (received !== size) {
        throw new ApiError("invalid_request", `The body is ${received} bytes; this piece is ${size} bytes.`);
      }
      await file.sync();
    } finally {
      await file.close();
    }
    return this.etagOf(grant.assetId, grant.index, grant);
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

  async complete(asset: StoredAsset, recorded: RecordedPiece[]): Promise<MissingPiece[]> {
    const missing = missingOf(asset, recorded);
    if (missing.length > 0) return missing;
    await mkdir(join(this.root, asset.id), { recursive: true });
    for (const [index, component] of asset.components.entries()) {
      const path = this.pathOf(asset.id, index);
      if (component.size === 0) {
        await (await open(path, "w")).close();
        continue;
      }
      const found = await stat(path).catch(() => undefined);
      if (found?.size !== component.size) missing.push({ path: component.path });
    }
    return missing;
  }

  async remove(asset: StoredAsset): Promise<void> {
    await rm(join(this.root, asset.id), { recursive: true, force: true });
  }

  async ping(): Promise<void> {
    await stat(this.root);
  }
}
