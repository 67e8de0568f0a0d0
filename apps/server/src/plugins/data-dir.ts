import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Config } from "../config.js";
import { lockDataDir } from "../lib/data-dir-lock.js";
import { restrictTree } from "../lib/owner-only.js";

/**
 * Takes the data dir when this server keeps anything in it (the embedded database, local blobs), so
 * that a second server never shares it, and makes it and everything in it its owner's only (0700
 * folders, 0600 files), as a data dir written by an earlier version may not be.
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
  const { changed, failed } = await restrictTree(opts.config.dataDir);
  if (changed.length > 0) {
    app.log.warn(
      { dataDir: opts.config.dataDir, changed: changed.length },
      `Made ${changed.length} file(s) and folder(s) in the data dir readable and writable by their owner only`,
    );
  }
  if (failed.length > 0) {
    app.log.warn(
      { dataDir: opts.config.dataDir, failed: failed.slice(0, 10) },
      `Could not take group and other permissions from ${failed.length} path(s) in the data dir (owned by another user?)`,
    );
  }
});
