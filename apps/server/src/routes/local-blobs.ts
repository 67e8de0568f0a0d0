import send from "@fastify/send";
import { AssetId } from "@methodic/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { ApiError } from "../errors.js";
import { attachment } from "../lib/content-disposition.js";
import * as blobs from "../services/local-blobs.service.js";
import type { LocalBlobStore } from "../storage/local.js";

const BlobParams = z.strictObject({
  id: AssetId,
  index: z
    .string()
    .regex(/^(0|[1-9][0-9]{0,4})$/, "must be a component index")
    .transform(Number),
});
const BlobQuery = z.object({
  part: z.string().optional(),
  offset: z.string().optional(),
  size: z.string().optional(),
  expires: z.string().optional(),
  sig: z.string().optional(),
});

/**
 * The local storage driver's own routes, what S3 is to the S3 driver: the signed URLs the API hands
 * out lead here, so they stand outside the contract (clients only follow URLs). PUT streams a piece
 * into a file of its own, checked before it takes its place; GET streams a component (with Range) as
 * an attachment named like the component. Paths come from the asset id and component index alone.
 */
export const localBlobRoutes: FastifyPluginAsyncZod<{ store: LocalBlobStore }> = async (app, { store }) => {
  // The body is the piece itself: read from the request stream, never parsed or buffered.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_request, _payload, done) => done(null));

  const schema = { params: BlobParams, querystring: BlobQuery, hide: true };

  app.put("/v1/blobs/:id/:index", { schema, config: { access: "none" } }, async (req, reply) => {
    const grant = store.grantOf("PUT", req.params.id, req.params.index, req.query);
    const declared = req.headers["content-length"];
    if (declared !== undefined && Number(declared) !== grant.size) {
      throw Number(declared) > grant.size
        ? new ApiError("payload_too_large", `The body is longer than this piece's ${grant.size} bytes.`)
        : new ApiError("invalid_request", `Content-Length is ${declared}; this piece is ${grant.size} bytes.`);
    }
    const etag = await blobs.receivePiece(app.db, store, grant, req.raw);
    return reply.code(200).header("etag", etag).send();
  });

  app.get("/v1/blobs/:id/:index", { schema, config: { access: "none" } }, async (req, reply) => {
    const grant = store.grantOf("GET", req.params.id, req.params.index, req.query);
    const gone = () => new ApiError("not_found", "This component is no longer stored.");
    const path = await blobs.componentPath(app.db, grant.assetId, grant.index);
    if (path === undefined) throw gone();
    const result = await send(req.raw, `/${grant.assetId}/${grant.index}`, {
      root: store.root,
      acceptRanges: true,
      cacheControl: false,
      dotfiles: "deny",
      index: false,
    });
    if (result.statusCode === 416) {
      const contentRange = String(result.headers["Content-Range"]);
      throw new ApiError(
        "range_not_satisfiable",
        `The Range asks for bytes this ${contentRange.slice("bytes */".length)}-byte file does not have.`,
        undefined,
        { "content-range": contentRange },
      );
    }
    if (result.type === "error") throw gone();
    reply.code(result.statusCode).headers(result.headers);
    reply.header("content-type", "application/octet-stream");
    reply.header("content-disposition", attachment(path));
    return reply.send(result.stream);
  });
};
