import { databasesUnderTest, storagesUnderTest, suiteConfig } from "@methodic/server/testing/vitest";
import { defineConfig } from "vitest/config";

// The built `methodic` binary in child processes, against `methodic serve`: on the embedded default
// (and the README's walkthrough, which is about it), and on S3 (MinIO) with each database.
const minio = storagesUnderTest().includes("s3")
  ? databasesUnderTest().map((database) => ({
      name: `${database}-minio`,
      database,
      storage: "s3" as const,
      exclude: ["test/walkthrough.test.ts"],
    }))
  : [];

export default defineConfig(
  suiteConfig({
    projects: [{ name: "embedded", database: "pglite", storage: "local" }, ...minio],
    testTimeout: 180_000,
  }),
);
