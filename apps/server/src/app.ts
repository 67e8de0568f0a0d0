import Fastify, { type FastifyInstance, type FastifyLoggerOptions, LogController } from "fastify";
import fp from "fastify-plugin";
import { serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import type { Config } from "./config.js";
import type { DatabaseTarget } from "./db/client.js";
import { logRedact, logSerializers } from "./lib/logging.js";
import { authPlugin } from "./plugins/auth.js";
import { connectionsPlugin, newRequestId, serverOptions } from "./plugins/connections.js";
import { dataDirPlugin } from "./plugins/data-dir.js";
import { databasePlugin, databaseTarget } from "./plugins/database.js";
import { docsPlugin } from "./plugins/docs.js";
import { errorsPlugin, frameworkErrors } from "./plugins/errors.js";
import { housekeepingPlugin } from "./plugins/housekeeping.js";
import { jsonBodyPlugin } from "./plugins/json-body.js";
import { securityHeadersPlugin } from "./plugins/security-headers.js";
import { storagePlugin } from "./plugins/storage.js";
import { assetRoutes } from "./routes/assets.js";
import { experimentRoutes } from "./routes/experiments.js";
import { localBlobRoutes } from "./routes/local-blobs.js";
import { outputRoutes } from "./routes/outputs.js";
import { runRoutes } from "./routes/runs.js";
import { serviceRoutes } from "./routes/service.js";
import { tokenRoutes } from "./routes/tokens.js";
import { variationRoutes } from "./routes/variations.js";

declare module "fastify" {
  interface FastifyInstance {
    config: Config;
  }
}

export interface AppOptions {
  config: Config;
  /** Overrides the database that the configuration picks (tests use an in-memory PGlite). */
  database?: DatabaseTarget;
}

/** Request bodies up to 16 MiB: a 10,000-component manifest fits. */
const BODY_LIMIT = 16 * 1024 * 1024;
/**
 * The router refuses a longer path parameter before any validation. Ours are at most 128 characters
 * (an identifier), so this leaves the answer to their own rules, even percent-encoded.
 */
const MAX_PARAM_LENGTH = 1024;

/** The whole API as one Fastify plugin. */
export const chronicle = fp(async (app: FastifyInstance, opts: AppOptions) => {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  await app.register(errorsPlugin);
  await app.register(securityHeadersPlugin);
  await app.register(connectionsPlugin, { limits: opts.config.http });
  await app.register(jsonBodyPlugin);
  app.decorate("config", opts.config);
  const database = opts.database ?? databaseTarget(opts.config);
  const embedded = database.driver === "pglite" && database.dataDir !== null;
  await app.register(dataDirPlugin, { config: opts.config, needed: embedded || !opts.config.s3 });
  await app.register(databasePlugin, { config: opts.config, database });
  await app.register(storagePlugin, { config: opts.config });
  await app.register(authPlugin, { config: opts.config, embedded });
  await app.register(housekeepingPlugin, { config: opts.config });
  await app.register(docsPlugin);
  await app.register(serviceRoutes);
  await app.register(experimentRoutes);
  await app.register(variationRoutes);
  await app.register(runRoutes);
  await app.register(assetRoutes);
  await app.register(outputRoutes);
  await app.register(tokenRoutes);
  if (app.localBlobs) await app.register(localBlobRoutes, { store: app.localBlobs });
});

/** Logging options beyond our defaults (tests pass a stream); false turns logging off. */
export type LoggerOverrides = false | (FastifyLoggerOptions & { stream?: { write(line: string): void } });

export function buildApp(opts: AppOptions & { logger?: LoggerOverrides }): FastifyInstance {
  const app = Fastify({
    logger:
      opts.logger === false
        ? false
        : { level: opts.config.logLevel, redact: logRedact, serializers: logSerializers, ...opts.logger },
    ...serverOptions(opts.config.http),
    bodyLimit: BODY_LIMIT,
    genReqId: newRequestId,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors,
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: "request_id" }),
    // Start-up may wait out a crashed server's data dir lock, then initialise the embedded database.
    pluginTimeout: 60_000,
  });
  app.register(chronicle, opts);
  return app;
}
