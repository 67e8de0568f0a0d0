import type { MissingPiece, PendingPieces, Piece, RecordedPiece, StoredAsset, StoredComponent } from "../lib/pieces.js";

export interface SignedRequest {
  url: string;
  headers: Record<string, string>;
}

/**
 * Where component bytes live. The protocol (plans, part records, finalize) is the same over every
 * driver; a driver only signs URLs, checks and completes what was sent, and deletes.
 */
export interface BlobStore {
  readonly kind: "local" | "s3";

  /** Whether a multipart component must come with the SHA-256 of each part (bound into its URLs). */
  readonly requiresPartChecksums: boolean;

  /** Before an asset is stored: starts whatever uploads need (S3 multipart uploads). */
  prepare(assetId: string, components: StoredComponent[], partSize: number): Promise<StoredComponent[]>;

  /** A URL and headers for PUTting one piece of a component straight to storage. */
  signPut(asset: StoredAsset, index: number, piece: Piece, expiresAt: Date): Promise<SignedRequest>;

  /** A URL that GETs a whole component (Range requests allowed). */
  signGet(asset: StoredAsset, index: number, expiresAt: Date): Promise<string>;

  /** Whether a client's report of a piece can be true; a driver that cannot tell says yes. */
  acceptsReport(asset: StoredAsset, index: number, piece: RecordedPiece): boolean;

  /**
   * Which of these unrecorded pieces storage holds after all (a client that crashed before reporting
   * them). Asked of one plan's page at a time, so that its cost stays a page's.
   */
  discover(asset: StoredAsset, unrecorded: PendingPieces[]): Promise<RecordedPiece[]>;

  /**
   * Finalize's first step, before the asset row is locked, so that no lock is held over slow work
   * (the local disk reads every multipart file to assemble and hash it). Changes nothing another
   * request can see; its completion does the rest under the lock.
   */
  check(asset: StoredAsset): Promise<Completion>;

  /** Deletes everything of the asset, including unfinished multipart uploads. */
  remove(asset: StoredAsset): Promise<void>;

  /** Throws when storage is unreachable. */
  ping(): Promise<void>;
}

/** A piece of a component, as its record names it. */
export type PieceRef = Pick<RecordedPiece, "path" | "partNumber">;

/** What finalize found, under the lock; the asset may become ready only when `missing` is empty. */
export interface Verdict {
  /** What storage lacks, or holds wrong, named as finalize's 409 names it. */
  missing: MissingPiece[];
  /** The paths in `missing` whose pieces are all there but fail the file's SHA-256. */
  mismatched: string[];
  /** Records of pieces storage does not hold, or holds wrong: dropped, so that /uploads plans them again. */
  forget: PieceRef[];
}

/** Finalize's second step, prepared by `check`. */
export interface Completion {
  /**
   * In the transaction that holds the pending asset locked: checks the bytes against the records,
   * completes multipart uploads, writes empty components and moves checked files into place. Having
   * made nothing ready when anything is missing.
   */
  complete(recorded: RecordedPiece[]): Promise<Verdict>;
  /** Once that transaction is over, however it ended (`ready` when the asset is): removes what `check` left. */
  release(ready: boolean): Promise<void>;
}

export class StorageUnavailableError extends Error {
  override name = "StorageUnavailableError";
}
