import { constants } from "node:fs";
import { mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
import send from "@fastify/send";
import { AssetId } from "@methodic/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { findAsset, recordPieces } from "../db/queries/assets.js";
import { ApiError, forbidden } from "../errors.js";
import type { BlobGrant, LocalBlobStore } from "../storage/local.js";

const BlobParams = z.strictObject({
  id: AssetId,
  index: z.string().regex(/^(0|[1-9][0-9]{0,4})$/, "must be a component index"),
});
// Read as text: anything off in a signed URL is a 403, not a validation error.
const BlobQuery = z.object({
  part: z.string().optional(),
  offset: z.string().optional(),
  size: z.string().optional(),
  expires: z.string().optional(),
  sig: z.string().optional(),
});

const WHOLE_NUMBER = /^(0|[1-9][0-9]{0,15})$/;

/** The grant a request claims, if its URL is one this server signed, for this method, and unexpired. */
function grantOf(
  store: LocalBlobStore,
  method: BlobGrant["method"],
  params: z.infer<typeof BlobParams>,
  query: z.infer<typeof BlobQuery>,
): BlobGrant {
  const numbers = [query.part, query.offset, query.size, query.expires];
  if (!query.sig || !numbers.every((n) => n !== undefined && WHOLE_NUMBER.test(n))) {
    throw forbidden("This is not a valid signed URL: ask the API for a fresh one.");
  }
  const [partNumber, offset, size, expires] = numbers.map(Number) as [number, number, number, number];
  const grant = { method, assetId: params.id, index: Number(params.index), partNumber, offset, size, expires };
  if (!store.verify(grant, query.sig)) {
    throw forbidden(`This URL's signature does not hold for a ${method}: ask the API for a fresh one.`);
  }
  if (expires * 1000 < Date.now()) throw forbidden("This signed URL has expired: ask the API for a fresh one.");
  return grant;
}

/**
 * Writes exactly `size` bytes of the body at `offset` as they arrive (each chunk written before the
 * next is read, so memory holds one chunk), and fsyncs them before they count.
 */
async function writePiece(path: string, offset: number, size: number, body: AsyncIterable<Buffer>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const file = await open(path, constants.O_WRONLY | constants.O_CREAT, 0o600);
  try {
    let received = 0;
    for await (const chunk of body) {
      if (received + chunk.length > size) {
        throw new ApiError("payload_too_large", `The body is longer than this piece's ${size} bytes.`);
      }
      for (let written = 0; written < chunk.length; ) {
        const { bytesWritten } = await file.write(chunk, written, chunk.length - written, offset + received + written);
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
}

/**
 * The local driver's side of presigned URLs: PUT streams a piece into its component's file, GET
 * streams a component (with Range). Paths come from the asset id and component index alone.
 */
export const blobRoutes: FastifyPluginAsyncZod = async (app) => {
  const store = app.localBlobs;
  if (!store) return;

  // The body is the piece itself: read from the request stream, never parsed or buffered.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_request, _payload, done) => done(null));

  const schema = { params: BlobParams, querystring: BlobQuery, hide: true };

  app.put("/v1/blobs/:id/:index", { schema, config: { access: "none" } }, async (req, reply) => {
    const grant = grantOf(store, "PUT", req.params, req.query);
    const declared = req.headers["content-length"];
    if (declared !== undefined && Number(declared) !== grant.size) {
      throw Number(declared) > grant.size
        ? new ApiError("payload_too_large", `The body is longer than this piece's ${grant.size} bytes.`)
        : new ApiError("invalid_request", `Content-Length is ${declared}; this piece is ${grant.size} bytes.`);
    }
    const asset = await findAsset(app.db, grant.assetId);
    const component = asset?.components[grant.index];
    if (!asset || !component) throw new ApiError("asset_not_found", `Asset ${grant.assetId} does not exist.`);
    if (asset.state !== "pending") {
      throw new ApiError(
        asset.state === "aborted" ? "asset_aborted" : "asset_state_conflict",
        `Asset ${asset.id} is ${asset.state}: it takes no more uploads.`,
      );
    }

    await writePiece(store.pathOf(asset.id, grant.index), grant.offset, grant.size, req.raw);
    const etag = store.etagOf(asset.id, grant.index, grant);
    const piece = { path: component.path, partNumber: grant.partNumber, etag, size: grant.size };
    if (!(await recordPieces(app.db, asset.id, [piece]))) {
      // Aborted while the bytes were on their way: leave nothing behind.
      await store.remove({ id: asset.id, partSize: 0, components: [] });
      throw new ApiError("asset_aborted", `Asset ${asset.id} was aborted during the upload.`);
    }
    return reply.code(200).header("etag", etag).send();
  });

  app.get("/v1/blobs/:id/:index", { schema, config: { access: "none" } }, async (req, reply) => {
    const grant = grantOf(store, "GET", req.params, req.query);
    const result = await send(req.raw, `/${grant.assetId}/${grant.index}`, {
      root: store.root,
      acceptRanges: true,
      cacheControl: false,
      dotfiles: "deny",
      index: false,
    });
    if (result.type === "error") throw new ApiError("not_found", "This component is no longer stored.");
    reply.code(result.statusCode).headers(result.headers);
    reply.header("content-type", "application/octet-stream");
    return reply.send(result.stream);
  });
};
