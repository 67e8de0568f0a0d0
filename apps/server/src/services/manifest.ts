import { type Component, type FieldError, MAX_PART_SIZE, MAX_PARTS } from "@methodic/contract";
import { invalidRequest } from "../errors.js";
import { pieceCount, type StoredComponent } from "../lib/pieces.js";

const MiB = 1024 * 1024;

export interface Manifest {
  partSize: number;
  components: StoredComponent[];
}

/**
 * The part size of a new file asset and its components as the server keeps them. The part size is
 * the client's (`part_size`) or the configured one grown so that no file needs over 10,000 parts;
 * every file must fit S3's limits (10,000 parts of at most 5 GiB). A file larger than the part size
 * may carry the SHA-256 of each part, which storage then checks every part against; a driver that
 * binds them into its URLs (S3) requires them.
 */
export function manifestOf(
  body: { part_size?: number | undefined; components: Component[] },
  configured: number,
  requirePartChecksums: boolean,
): Manifest {
  const largest = Math.max(0, ...body.components.map((c) => c.size));
  const partSize = body.part_size ?? Math.max(configured, Math.ceil(largest / MAX_PARTS / MiB) * MiB);
  const problems: FieldError[] = [];
  const refuse = (path: string, message: string) => problems.push({ in: "body", path, message });

  body.components.forEach((component, i) => {
    const parts = pieceCount(component.size, partSize);
    const at = `components.${i}`;
    if (parts > MAX_PARTS) {
      refuse(
        `${at}.size`,
        partSize >= MAX_PART_SIZE
          ? `is over S3's limit for one file, ${MAX_PARTS} parts of 5 GiB`
          : `needs ${parts} parts of ${partSize} bytes, over the limit of ${MAX_PARTS}: give a larger part_size`,
      );
      return;
    }
    const hashes = component.part_sha256;
    if (hashes === undefined) {
      if (parts > 1 && requirePartChecksums) {
        refuse(
          `${at}.part_sha256`,
          `is required for a file larger than the part size: storage checks each of its ${parts} parts against its SHA-256 (give part_size too)`,
        );
      }
    } else if (body.part_size === undefined) {
      refuse("part_size", "is required with part_sha256: it says which bytes each hash covers");
    } else if (parts <= 1) {
      refuse(`${at}.part_sha256`, `is only for a file larger than part_size (${partSize} bytes)`);
    } else if (hashes.length !== parts) {
      refuse(`${at}.part_sha256`, `has ${hashes.length} hashes; the file has ${parts} parts of ${partSize} bytes`);
    }
  });
  if (partSize > MAX_PART_SIZE && problems.length === 0) {
    refuse("part_size", `would be ${partSize} bytes, over S3's limit of 5 GiB`);
  }
  const first = problems[0];
  if (first) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : "";
    throw invalidRequest(`Invalid request: body.${first.path} ${first.message}${more}.`, { fields: problems });
  }
  return {
    partSize,
    components: body.components.map(({ path, size, sha256, part_sha256 }) => ({
      path,
      size,
      sha256,
      ...(part_sha256 && { partSha256: part_sha256 }),
    })),
  };
}
