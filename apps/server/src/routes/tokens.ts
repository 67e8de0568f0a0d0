import { tokenRoutes as api } from "@methodic/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import * as tokens from "../services/tokens.service.js";
import { routeOf } from "./define.js";

export const tokenRoutes: FastifyPluginAsyncZod = async (app) => {
  app.route({
    ...routeOf(api.createToken),
    handler: async (req, reply) => reply.code(201).send(await tokens.createToken(app.db, req.body)),
  });

  app.route({
    ...routeOf(api.listTokens),
    handler: (req) => tokens.listTokens(app.db, req.query),
  });

  app.route({
    ...routeOf(api.revokeToken),
    handler: async (req, reply) => {
      await app.authenticator.revoke(req.params.id);
      return reply.code(204).send(null);
    },
  });
};
