import type { Db } from "../db/client.js";
import * as q from "../db/queries/assets.js";
import { ApiError, invalidRequest } from "../errors.js";
import { isMultipart } from "../lib/pieces.js";
import type { BlobGrant, LocalBlobStore } from "../storage/local.js";
import { assetNotFound } from "./assets.service.js";

const takesNoUploads = (id: string, state: string) =>
  new ApiError(
    state === "aborted" ? "asset_aborted" : "asset_state_conflict",
    `Asset ${id} is ${state}: it takes no more uploads.`,
  );

/**
 * A piece PUT to the local driver's signed URL: received whole into a file of its own and hashed
 * (against the file's SHA-256 for a single PUT, the part's for a part with a part hash), then, in a
 * transaction holding the asset locked and only while it is pending, moved into its place and
 * recorded (the local driver sees every byte, so its records are the whole truth). A PUT never
 * touches anything but its own piece: a ready asset's files stay as they are. Answers the ETag.
 */
export async function receivePiece(
  db: Db,
  store: LocalBlobStore,
  grant: BlobGrant,
  body: AsyncIterable<Buffer>,
): Promise<string> {
  const id = grant.assetId;
  const target = await q.findComponent(db, id, grant.index);
  const component = target?.component;
  if (!target || !component) throw assetNotFound(id);
  // Refused before a byte is read, and again under the lock, whatever happened in between.
  if (target.state !== "pending") throw takesNoUploads(id, target.state);
  const expected = isMultipart(component, target.partSize ?? 0)
    ? component.partSha256?.[grant.partNumber - 1]
    : component.sha256;

  const received = await store.receive(grant, body);
  try {
    if (expected !== undefined && received.sha256 !== expected) {
      throw invalidRequest(
        `The body's SHA-256 is ${received.sha256}, not ${expected}, the SHA-256 of this ` +
          `${isMultipart(component, target.partSize ?? 0) ? `part of '${component.path}'` : `file, '${component.path}'`}: ` +
          "nothing was kept; send the right bytes.",
        {
          fields: [{ in: "body", path: "", message: "does not match the piece's sha256" }],
          expected_sha256: expected,
          received_sha256: received.sha256,
        },
      );
    }
    const etag = store.etagOf(id, grant.index, grant);
    const piece = { path: component.path, partNumber: grant.partNumber, etag, size: grant.size };
    const state = await db.transaction(async (tx) => {
      const locked = await q.lockState(tx, id);
      if (locked === "pending") {
        await store.place(received, grant);
        await q.addPieces(tx, id, [piece]);
      }
      return locked;
    });
    if (!state) throw assetNotFound(id);
    if (state !== "pending") throw takesNoUploads(id, state);
    return etag;
  } finally {
    await store.discard(received);
  }
}

/** The manifest path of a component, for the file name of its download; undefined when it is gone. */
export async function componentPath(db: Db, assetId: string, index: number): Promise<string | undefined> {
  return (await q.findComponent(db, assetId, index))?.component?.path;
}
