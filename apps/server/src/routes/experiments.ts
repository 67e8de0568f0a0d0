import { experimentRoutes as api } from "@methodic/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import * as experiments from "../services/experiments.service.js";
import * as variations from "../services/variations.service.js";
import { schemaOf } from "./define.js";

export const experimentRoutes: FastifyPluginAsyncZod = async (app) => {
  app.route({
    method: api.createExperiment.method,
    url: api.createExperiment.path,
    schema: schemaOf(api.createExperiment),
    handler: async (req, reply) => reply.code(201).send(await experiments.createExperiment(app.db, req.body)),
  });

  app.route({
    method: api.listExperiments.method,
    url: api.listExperiments.path,
    schema: schemaOf(api.listExperiments),
    handler: (req) => experiments.listExperiments(app.db, req.query),
  });

  app.route({
    method: api.getExperiment.method,
    url: api.getExperiment.path,
    schema: schemaOf(api.getExperiment),
    handler: (req) => experiments.getExperiment(app.db, req.params.exp),
  });

  app.route({
    method: api.updateExperiment.method,
    url: api.updateExperiment.path,
    schema: schemaOf(api.updateExperiment),
    handler: (req) => experiments.updateExperiment(app.db, req.params.exp, req.body),
  });

  app.route({
    method: api.putVariation.method,
    url: api.putVariation.path,
    schema: schemaOf(api.putVariation),
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
    method: api.listVariations.method,
    url: api.listVariations.path,
    schema: schemaOf(api.listVariations),
    handler: (req) => variations.listVariations(app.db, req.params.exp, req.query),
  });

  app.route({
    method: api.getVariation.method,
    url: api.getVariation.path,
    schema: schemaOf(api.getVariation),
    handler: (req) => variations.getVariation(app.db, req.params.exp, req.params.var),
  });
};
