// `node dist/setup-storage.js`: gets the configured S3 bucket ready for Chronicle (see
// storage/s3-setup.ts), with the server's own environment. docker compose runs it once before the
// server starts; for AWS S3 or another store, run it once by hand, or do what it prints yourself.
import { ConfigError, loadConfig } from "./config.js";
import { setupBucket } from "./storage/s3-setup.js";

try {
  const config = loadConfig();
  if (!config.s3) throw new ConfigError("S3_BUCKET is not set: there is no bucket to set up.");
  const report = await setupBucket(config.s3, {
    publicOrigin: new URL(config.publicUrl).origin,
    abortIncompleteAfterDays: Math.ceil(config.pendingAssetTtlS / 86_400),
  });
  for (const line of report) console.log(line);
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
}
