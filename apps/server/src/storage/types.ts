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
