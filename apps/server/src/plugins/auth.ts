import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Config } from "../config.js";
import { embeddedAdminToken } from "../lib/admin-token.js";
import { Authenticator, type Principal } from "../services/tokens.service.js";

declare module "fastify" {
  interface FastifyInstance {
    authenticator: Authenticator;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

export interface AuthPluginOptions {
  config: Config;
  /** The data dir holds the generated admin token when METHODIC_ADMIN_TOKEN is unset (embedded default). */
  embedded: boolean;
}

export const authPlugin = fp(async (app: FastifyInstance, opts: AuthPluginOptions) => {
  let adminToken = opts.config.adminToken;
  if (adminToken === undefined && opts.embedded) {
    const generated = await embeddedAdminToken(opts.config.dataDir);
    adminToken = generated.token;
    app.log.info(
      { path: generated.path },
      generated.created
        ? `Generated an admin token in ${generated.path} (readable by this user only)`
        : `Admin token: ${generated.path}`,
    );
  } else if (adminToken === undefined) {
    app.log.warn("No METHODIC_ADMIN_TOKEN is set: tokens can only be used, not created or revoked, until one is.");
  }

  const authenticator = new Authenticator(app.db, adminToken);
  app.decorate("authenticator", authenticator);

  // onRequest: a request without the right token is refused before its body is read.
  app.addHook("onRequest", async (request) => {
    const access = request.routeOptions.config.access;
    if (access === undefined || access === "none") return;
    const principal = await authenticator.authenticate(request.headers.authorization, request.ip);
    authenticator.authorize(principal, access);
    request.principal = principal;
  });
});
