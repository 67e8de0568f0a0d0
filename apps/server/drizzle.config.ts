import { defineConfig } from "drizzle-kit";

// `pnpm db:generate` writes a migration for a schema change; migrations are applied at start-up.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/schema/index.ts",
  out: "./drizzle",
  casing: "snake_case",
});
