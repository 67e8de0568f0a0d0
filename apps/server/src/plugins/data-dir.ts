import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Config } from "../config.js";
import { lockDataDir } from "../lib/data-dir-lock.js";

/**
 * Takes the data dir when this server keeps anything in it (the embedded database, local blobs), so
 * that a second server never shares it.
 */
export const dataDirPlugin = fp(async (app: FastifyInstance, opts: { config: Config; needed: boolean }) => {
  if (!opts.needed) return;
  const release = await lockDataDir(opts.config.dataDir, {
    onWait: (message) => app.log.warn(message),
    onLost: (err) => {
      app.log.fatal({ err }, "lost the data dir lock; stopping so that its data is not corrupted");
      process.exit(1);
    },
  });
  // Registered first, so closed last: after the database and storage let go of the directory.
  app.addHook("onClose", release);
});
