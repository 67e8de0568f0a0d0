import { databasesUnderTest, storagesUnderTest, suiteConfig } from "@methodic/server/testing/vitest";
import { defineConfig } from "vitest/config";

// The whole suite runs against a real server on each pair of drivers: PGlite and, with
// TEST_DATABASE_URL, PostgreSQL; the local disk and S3 (MinIO). `*.s3.test.ts` is about S3 only.
export default defineConfig(
  suiteConfig({
    projects: databasesUnderTest().flatMap((database) =>
      storagesUnderTest().map((storage) => ({
        name: `${database}-${storage === "s3" ? "minio" : storage}`,
        database,
        storage,
        ...(storage === "local" && { exclude: ["test/**/*.s3.test.ts"] }),
      })),
    ),
  }),
);
