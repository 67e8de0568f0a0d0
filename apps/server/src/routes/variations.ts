import { variationRoutes as api } from "@methodic/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import * as variations from "../services/variations.service.js";
import { routeOf } from "./define.js";

export const variationRoutes: FastifyPluginAsyncZod = async (app) => {
  app.route({
    ...routeOf(api.putVariation),
    handler: async (req, reply) => {
      const { variation, created } = await variations.putVariation(
        app.db,
        req.params.exp,
        req.params.var,
        req.body ?? undefined,
      );
      return reply.code(created ? 201 : 200).send(variation);
    },
  });

  app.route({
    ...routeOf(api.listVariations),
    handler: (req) => variations.listVariations(app.db, req.params.exp, req.query),
  });

  app.route({
    ...routeOf(api.getVariation),
    handler: (req) => variations.getVariation(app.db, req.params.exp, req.params.var),
  });
};
