import { sql } from "drizzle-orm";
import { foreignKey, index, integer, pgEnum, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { jsonObject, listedBytes, timestampMs, timestamps } from "./columns.js";

export const experiments = pgTable(
  "experiments",
  {
    id: text().primaryKey(),
    name: text(),
    description: text(),
    wandbEntity: text(),
    wandbProject: text(),
    config: jsonObject().notNull().default({}),
    listedBytes: listedBytes({ json: ["config"], text: ["name", "description"] }),
    ...timestamps,
  },
  (t) => [index().on(t.createdAt, t.id)],
);

export const variations = pgTable(
  "variations",
  {
    experimentId: text()
      .notNull()
      .references(() => experiments.id, { onDelete: "cascade" }),
    variation: text().notNull(),
    description: text(),
    config: jsonObject().notNull().default({}),
    listedBytes: listedBytes({ json: ["config"], text: ["description"] }),
    ...timestamps,
  },
  (t) => [primaryKey({ columns: [t.experimentId, t.variation] }), index().on(t.experimentId, t.createdAt, t.variation)],
);

export const runState = pgEnum("run_state", ["running", "succeeded", "failed", "lost"]);

export const runs = pgTable(
  "runs",
  {
    experimentId: text().notNull(),
    variation: text().notNull(),
    run: integer().notNull(),
    state: runState().notNull().default("running"),
    startedAt: timestampMs().notNull().defaultNow(),
    finishedAt: timestampMs(),
    lastHeartbeatAt: timestampMs().notNull().defaultNow(),
    wandbRunId: text(),
    wandbEntity: text(),
    wandbProject: text(),
    wandbDashboardUrl: text(),
    summary: jsonObject(),
    errorMessage: text(),
    errorDetails: jsonObject(),
    listedBytes: listedBytes({ json: ["summary", "error_details"], text: ["error_message"] }),
    ...timestamps,
  },
  (t) => [
    primaryKey({ columns: [t.experimentId, t.variation, t.run] }),
    foreignKey({
      columns: [t.experimentId, t.variation],
      foreignColumns: [variations.experimentId, variations.variation],
    }).onDelete("cascade"),
    // Newest-first lists of an experiment's and of a variation's runs.
    index().on(t.experimentId, t.createdAt, t.variation, t.run),
    index().on(t.experimentId, t.variation, t.createdAt, t.run),
    // The reaper's scan touches running runs only.
    index("runs_running_heartbeat_index").on(t.lastHeartbeatAt).where(sql`${t.state} = 'running'`),
  ],
);
