import { assetRoutes as api } from "@methodic/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import * as assets from "../services/assets.service.js";
import { routeOf } from "./define.js";

export const assetRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = { db: app.db, storage: app.storage, config: app.config };
  const logCleanup = (err: unknown) => app.log.warn({ err }, "cleaning an aborted asset's storage failed");

  app.route({
    ...routeOf(api.createAsset),
    handler: async (req, reply) => {
      const key = req.headers["idempotency-key"];
      // Keys are per token; the bootstrap admin token has no id of its own.
      const idempotency = key === undefined ? undefined : { principal: req.principal?.tokenId ?? "admin", key };
      return reply.code(201).send(await assets.createAsset(ctx, req.params, req.body, idempotency));
    },
  });

  app.route({ ...routeOf(api.getAsset), handler: (req) => assets.getAsset(app.db, req.params.id) });
  app.route({
    ...routeOf(api.getAssetContent),
    handler: async (req, reply) => {
      // Sent as JSON text as it is: a string or a number is a JSON value too.
      const content = await assets.getContent(app.db, req.params.id);
      return reply.type("application/json").serializer(JSON.stringify).send(content);
    },
  });
  app.route({ ...routeOf(api.reportParts), handler: (req) => assets.reportParts(ctx, req.params.id, req.body) });
  app.route({ ...routeOf(api.planUploads), handler: (req) => assets.planUploads(ctx, req.params.id) });
  app.route({ ...routeOf(api.finalizeAsset), handler: (req) => assets.finalizeAsset(ctx, req.params.id) });
  app.route({ ...routeOf(api.abortAsset), handler: (req) => assets.abortAsset(ctx, req.params.id, logCleanup) });
  app.route({ ...routeOf(api.downloadAsset), handler: (req) => assets.download(ctx, req.params.id) });
};
