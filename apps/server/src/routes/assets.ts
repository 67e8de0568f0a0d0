import { assetRoutes as api } from "@methodic/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { invalidRequest } from "../errors.js";
import * as assets from "../services/assets.service.js";
import * as outputs from "../services/outputs.service.js";
import { routeOf } from "./define.js";

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export const assetRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = { db: app.db, storage: app.storage, config: app.config };
  const logCleanup = (err: unknown) => app.log.warn({ err }, "cleaning an aborted asset's storage failed");

  app.route({
    ...routeOf(api.createAsset),
    handler: async (req, reply) => {
      const header = req.headers["idempotency-key"];
      let idempotency: assets.Idempotency | undefined;
      if (header !== undefined) {
        if (typeof header !== "string" || !IDEMPOTENCY_KEY.test(header)) {
          throw invalidRequest("The Idempotency-Key header must be 1 to 255 printable ASCII characters.", {
            fields: [
              { in: "headers", path: "idempotency-key", message: "must be 1 to 255 printable ASCII characters" },
            ],
          });
        }
        idempotency = { principal: req.principal?.tokenId ?? "admin", key: header };
      }
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

  app.route({
    ...routeOf(api.listRunOutputs),
    handler: (req) => outputs.listOutputs(app.db, { ...req.params, scope: "run" }, req.query),
  });
  app.route({
    ...routeOf(api.listVariationOutputs),
    handler: (req) => outputs.listOutputs(app.db, { ...req.params, run: req.query.run, scope: "variation" }, req.query),
  });
  app.route({
    ...routeOf(api.latestOutput),
    handler: (req) => outputs.latestOutput(app.db, req.params.exp, req.params.var, req.query),
  });
  app.route({
    ...routeOf(api.listExperimentOutputs),
    handler: (req) =>
      outputs.listOutputs(
        app.db,
        { exp: req.params.exp, var: req.query.variation, run: req.query.run, scope: "experiment" },
        req.query,
      ),
  });

  app.route({
    ...routeOf(api.listInputs),
    handler: (req) => outputs.listVariationInputs(app.db, req.params.exp, req.params.var, req.query),
  });
  app.route({
    ...routeOf(api.linkInput),
    handler: async (req, reply) => {
      const { input, created } = await outputs.link(app.db, req.params.exp, req.params.var, req.params.asset_id);
      return reply.code(created ? 201 : 200).send(input);
    },
  });
  app.route({
    ...routeOf(api.unlinkInput),
    handler: async (req, reply) => {
      await outputs.unlink(app.db, req.params.exp, req.params.var, req.params.asset_id);
      return reply.code(204).send(null);
    },
  });
};
