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

/** How many pieces a file is sent in: none when empty, one up to the part size, parts above it. */
export const pieceCount = (size: number, partSize: number) => (size === 0 ? 0 : Math.ceil(size / partSize));

/** Piece `partNumber` of a component, by arithmetic; undefined when the component has no such piece. */
export function pieceOf(component: StoredComponent, partSize: number, partNumber: number): Piece | undefined {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > pieceCount(component.size, partSize)) {
    return undefined;
  }
  const offset = (partNumber - 1) * partSize;
  return { partNumber, offset, size: Math.min(partSize, component.size - offset) };
}

/** The pieces a component is sent in: one PUT up to the part size, parts of part size above it. */
export function piecesOf(component: StoredComponent, partSize: number): Piece[] {
  return Array.from(
    { length: pieceCount(component.size, partSize) },
    (_, i) => pieceOf(component, partSize, i + 1) as Piece,
  );
}

export const isMultipart = (component: StoredComponent, partSize: number) => component.size > partSize;

const pieceKey = (path: string, partNumber: number) => `${partNumber}:${path}`;

/** Pieces of one component of an asset that are still to be sent. */
export interface PendingPieces {
  index: number;
  component: StoredComponent;
  pieces: Piece[];
}

/** For each component, its pieces without a record. */
export function unrecorded(asset: StoredAsset, recorded: RecordedPiece[]): PendingPieces[] {
  const have = new Set(recorded.map((piece) => pieceKey(piece.path, piece.partNumber)));
  return asset.components.flatMap((component, index) => {
    const pieces = piecesOf(component, asset.partSize).filter((p) => !have.has(pieceKey(component.path, p.partNumber)));
    return pieces.length > 0 ? [{ index, component, pieces }] : [];
  });
}

/**
 * Which components hold the first `limit` pieces without a record, in manifest order, told from how
 * many pieces of each are recorded (by path); `truncated` when pieces beyond those remain. One step
 * per component, however many pieces they have.
 */
export function pageComponents(
  asset: StoredAsset,
  recordedCounts: ReadonlyMap<string, number>,
  limit: number,
): { indices: number[]; truncated: boolean } {
  const indices: number[] = [];
  let room = limit;
  for (const [index, component] of asset.components.entries()) {
    const missing = pieceCount(component.size, asset.partSize) - (recordedCounts.get(component.path) ?? 0);
    if (missing <= 0) continue;
    if (room === 0) return { indices, truncated: true };
    indices.push(index);
    if (missing > room) return { indices, truncated: true };
    room -= missing;
  }
  return { indices, truncated: false };
}

/**
 * The first `limit` pieces without a record of these components, in order. `recordedParts` holds the
 * recorded part numbers of those that have any; the pieces are worked out one by one, never listed
 * whole, so a page costs its own size however large the files are.
 */
export function pagePieces(
  asset: StoredAsset,
  indices: number[],
  recordedParts: ReadonlyMap<string, ReadonlySet<number>>,
  limit: number,
): PendingPieces[] {
  const page: PendingPieces[] = [];
  let room = limit;
  for (const index of indices) {
    const component = asset.components[index];
    if (!component || room === 0) break;
    const recorded = recordedParts.get(component.path);
    const pieces: Piece[] = [];
    const count = pieceCount(component.size, asset.partSize);
    for (let partNumber = 1; partNumber <= count && pieces.length < room; partNumber++) {
      if (!recorded?.has(partNumber)) pieces.push(pieceOf(component, asset.partSize, partNumber) as Piece);
    }
    if (pieces.length > 0) page.push({ index, component, pieces });
    room -= pieces.length;
  }
  return page;
}

/** Pending pieces less those of `found`. */
export function withoutPieces(pending: PendingPieces[], found: RecordedPiece[]): PendingPieces[] {
  const have = new Set(found.map((piece) => pieceKey(piece.path, piece.partNumber)));
  return pending.flatMap(({ pieces, ...rest }) => {
    const left = pieces.filter((piece) => !have.has(pieceKey(rest.component.path, piece.partNumber)));
    return left.length > 0 ? [{ ...rest, pieces: left }] : [];
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
