import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { type Config, publicUrlOf } from "../config.js";
import { LocalBlobStore } from "../storage/local.js";
import type { BlobStore } from "../storage/types.js";

declare module "fastify" {
  interface FastifyInstance {
    storage: BlobStore;
    /** The local driver, when blobs live in the data dir (no S3_BUCKET). */
    localBlobs: LocalBlobStore | undefined;
  }
}

export const storagePlugin = fp(async (app: FastifyInstance, opts: { config: Config }) => {
  if (opts.config.s3) {
    // Imported only when configured: the AWS SDK is some 200 ms of module loading (a sixth of a cold
    // start) that a server on the local disk never uses.
    const { S3BlobStore } = await import("../storage/s3.js");
    app.decorate("storage", new S3BlobStore(opts.config.s3, app.log));
    app.decorate("localBlobs", undefined);
    return;
  }
  const publicUrl = () => {
    const address = app.server.address();
    return publicUrlOf(opts.config, typeof address === "object" && address ? address.port : undefined);
  };
  const local = await LocalBlobStore.open(opts.config.dataDir, publicUrl);
  app.decorate("storage", local);
  app.decorate("localBlobs", local);
});
