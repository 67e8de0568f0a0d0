import { databasesUnderTest, storagesUnderTest, suiteConfig } from "@methodic/server/testing/vitest";
import { defineConfig } from "vitest/config";

// Each example runs, as a user would run it, against a server on the embedded default (PGlite and
// the local disk), and on S3 (MinIO) with each database.
const minio = storagesUnderTest().includes("s3")
  ? databasesUnderTest().map((database) => ({ name: `${database}-minio`, database, storage: "s3" as const }))
  : [];

export default defineConfig(
  suiteConfig({
    projects: [{ name: "embedded", database: "pglite", storage: "local" }, ...minio],
    testTimeout: 180_000,
  }),
);
