import { experimentRoutes as api } from "@methodic/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import * as experiments from "../services/experiments.service.js";
import { routeOf } from "./define.js";

export const experimentRoutes: FastifyPluginAsyncZod = async (app) => {
  app.route({
    ...routeOf(api.createExperiment),
    handler: async (req, reply) => reply.code(201).send(await experiments.createExperiment(app.db, req.body)),
  });

  app.route({
    ...routeOf(api.listExperiments),
    handler: (req) => experiments.listExperiments(app.db, req.query),
  });

  app.route({
    ...routeOf(api.getExperiment),
    handler: (req) => experiments.getExperiment(app.db, req.params.exp),
  });

  app.route({
    ...routeOf(api.updateExperiment),
    handler: (req) => experiments.updateExperiment(app.db, req.params.exp, req.body),
  });
};
