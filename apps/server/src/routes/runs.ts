import { runRoutes as api } from "@methodic/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import * as runs from "../services/runs.service.js";
import { routeOf } from "./define.js";

export const runRoutes: FastifyPluginAsyncZod = async (app) => {
  app.route({
    ...routeOf(api.startRun),
    handler: (req) => runs.startRun(app.db, req.params, req.body ?? undefined),
  });

  app.route({
    ...routeOf(api.heartbeat),
    handler: (req) => runs.heartbeat(app.db, req.params),
  });

  app.route({
    ...routeOf(api.succeedRun),
    handler: (req) => runs.succeedRun(app.db, req.params, req.body ?? undefined),
  });

  app.route({
    ...routeOf(api.failRun),
    handler: (req) => runs.failRun(app.db, req.params, req.body ?? undefined),
  });

  app.route({
    ...routeOf(api.getRun),
    handler: (req) => runs.getRun(app.db, req.params),
  });

  app.route({
    ...routeOf(api.listVariationRuns),
    handler: (req) => runs.listRuns(app.db, req.params.exp, { ...req.query, variation: req.params.var }, true),
  });

  app.route({
    ...routeOf(api.listExperimentRuns),
    handler: (req) => runs.listRuns(app.db, req.params.exp, req.query),
  });
};
