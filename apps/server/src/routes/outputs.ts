import { outputRoutes as api } from "@methodic/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import * as outputs from "../services/outputs.service.js";
import { routeOf } from "./define.js";

export const outputRoutes: FastifyPluginAsyncZod = async (app) => {
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
