import pg from "pg";
import type { TestProject } from "vitest/node";
import { migratePostgres } from "../../src/db/client.js";
import { adminUrl, databaseUrl } from "../support/postgres.js";

declare module "vitest" {
  export interface ProvidedContext {
    templateDatabase: string;
  }
}

/** Migrates a template database once; each test file copies it (CREATE DATABASE ... TEMPLATE). */
export default async function setup(project: TestProject) {
  const template = `methodic_test_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  await admin.query(`create database "${template}"`);
  const pool = new pg.Pool({ connectionString: databaseUrl(template) });
  try {
    await migratePostgres(pool);
  } finally {
    await pool.end();
  }
  project.provide("templateDatabase", template);

  return async () => {
    const { rows } = await admin.query<{ datname: string }>("select datname from pg_database where datname like $1", [
      `${template}%`,
    ]);
    for (const { datname } of rows) await admin.query(`drop database if exists "${datname}" with (force)`);
    await admin.end();
  };
}
