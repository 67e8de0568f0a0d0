import type { StoredComponent } from "../db/schema/assets.js";

export type { StoredComponent };

/** A byte range of a component that is sent with one PUT: the whole file, or one multipart part. */
export interface Piece {
  partNumber: number;
  offset: number;
  size: number;
}

/** What storage needs to know of an asset. */
export interface StoredAsset {
  id: string;
  partSize: number;
  components: StoredComponent[];
}

export interface RecordedPiece {
  path: string;
  partNumber: number;
  etag: string;
  size: number;
}

export interface SignedRequest {
  url: string;
  headers: Record<string, string>;
}

/** A component whose bytes are not all in storage; part numbers for multipart components. */
export interface MissingPiece {
  path: string;
  partNumbers?: number[];
}

/**
 * Where component bytes live. The protocol (plans, part records, finalize) is the same over every
 * driver; a driver only signs URLs, checks and completes what was sent, and deletes.
 */
export interface BlobStore {
  readonly kind: "local" | "s3";

  /** Before an asset is stored: starts whatever uploads need (S3 multipart uploads). */
  prepare(assetId: string, components: StoredComponent[], partSize: number): Promise<StoredComponent[]>;

  /** A URL and headers for PUTting one piece of a component straight to storage. */
  signPut(asset: StoredAsset, index: number, piece: Piece, expiresAt: Date): Promise<SignedRequest>;

  /** A URL that GETs a whole component (Range requests allowed). */
  signGet(asset: StoredAsset, index: number, expiresAt: Date): Promise<string>;

  /** Whether a client's report of a piece can be true; a driver that cannot tell says yes. */
  acceptsReport(asset: StoredAsset, index: number, piece: RecordedPiece): boolean;

  /** Pieces storage holds that the records lack (a client that crashed before reporting them). */
  discover(asset: StoredAsset, recorded: RecordedPiece[]): Promise<RecordedPiece[]>;

  /**
   * At finalize: checks the bytes against the records, completes multipart uploads and writes empty
   * components. Answers what storage does not hold, having changed nothing if anything is missing;
   * nothing is ready unless that is empty.
   */
  complete(asset: StoredAsset, recorded: RecordedPiece[]): Promise<MissingPiece[]>;

  /** Deletes everything of the asset, including unfinished multipart uploads. */
  remove(asset: StoredAsset): Promise<void>;

  /** Throws when storage is unreachable. */
  ping(): Promise<void>;
}

export class StorageUnavailableError extends Error {
  override name = "StorageUnavailableError";
}

/** The pieces a component is sent in: one PUT up to the part size, parts of part size above it. */
export function piecesOf(component: StoredComponent, partSize: number): Piece[] {
  if (component.size === 0) return [];
  if (component.size <= partSize) return [{ partNumber: 1, offset: 0, size: component.size }];
  const pieces: Piece[] = [];
  for (let offset = 0, partNumber = 1; offset < component.size; offset += partSize, partNumber++) {
    pieces.push({ partNumber, offset, size: Math.min(partSize, component.size - offset) });
  }
  return pieces;
}

export const isMultipart = (component: StoredComponent, partSize: number) => component.size > partSize;

const pieceKey = (path: string, partNumber: number) => `${partNumber}:${path}`;

/** For each component, its pieces without a record. */
export function unrecorded(
  asset: StoredAsset,
  recorded: RecordedPiece[],
): { index: number; component: StoredComponent; pieces: Piece[] }[] {
  const have = new Set(recorded.map((piece) => pieceKey(piece.path, piece.partNumber)));
  return asset.components.flatMap((component, index) => {
    const pieces = piecesOf(component, asset.partSize).filter((p) => !have.has(pieceKey(component.path, p.partNumber)));
    return pieces.length > 0 ? [{ index, component, pieces }] : [];
  });
}

/** The same, as finalize names it: part numbers for multipart components only. */
export function missingOf(asset: StoredAsset, recorded: RecordedPiece[]): MissingPiece[] {
  return unrecorded(asset, recorded).map(({ component, pieces }) =>
    isMultipart(component, asset.partSize)
      ? { path: component.path, partNumbers: pieces.map((p) => p.partNumber) }
      : { path: component.path },
  );
}
