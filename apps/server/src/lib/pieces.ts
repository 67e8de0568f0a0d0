/**
 * How an asset's files are cut into pieces for upload, and which of them are stored: the model that
 * the asset service, the database records and the storage drivers share.
 */

/** A file of an asset as the server keeps it: the manifest entry, and the storage's upload handle. */
export interface StoredComponent {
  path: string;
  size: number;
  sha256: string;
  /** A multipart upload's id in storage (S3), for components larger than the part size. */
  uploadId?: string;
  /** The SHA-256 (hex) of each part, for components larger than the part size, when the client gave them. */
  partSha256?: string[];
}

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

/** A component whose bytes are not all in storage; part numbers for multipart components. */
export interface MissingPiece {
  path: string;
  partNumbers?: number[];
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
