import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  foreignKey,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  uuid,
} from "drizzle-orm/pg-core";
import type { StoredComponent } from "../../lib/pieces.js";
import { jsonObject, listedBytes, timestampMs } from "./columns.js";
import { runs, variations } from "./experiments.js";

export const assetState = pgEnum("asset_state", ["pending", "ready", "aborted"]);

const bytes = () => bigint({ mode: "number" });

export const assets = pgTable(
  "assets",
  {
    id: uuid().primaryKey(),
    experimentId: text().notNull(),
    variation: text().notNull(),
    run: integer().notNull(),
    assetType: text().notNull(),
    name: text(),
    state: assetState().notNull().default("pending"),
    inline: boolean().notNull(),
    /** The JSON value of an inline asset; null for a component asset. */
    content: jsonb().$type<unknown>(),
    assetConfig: jsonObject().notNull().default({}),
    components: jsonb().$type<StoredComponent[]>().notNull().default([]),
    size: bytes().notNull(),
    uploadedSize: bytes().notNull().default(0),
    /** Chosen at create, so that every plan of the asset cuts its files the same way. */
    partSize: bytes(),
    createdAt: timestampMs().notNull().defaultNow(),
    finalizedAt: timestampMs(),
    listedBytes: listedBytes({ json: ["asset_config", "components"], text: ["name"] }),
  },
  (t) => [
    foreignKey({
      name: "assets_run_fk",
      columns: [t.experimentId, t.variation, t.run],
      foreignColumns: [runs.experimentId, runs.variation, runs.run],
    }).onDelete("cascade"),
    // outputs/latest: the newest ready asset of a type in a variation is the first entry of this index.
    index("assets_latest_index")
      .on(t.experimentId, t.variation, t.assetType, t.createdAt, t.id)
      .where(sql`${t.state} = 'ready'`),
    // Newest-first outputs of a run (and its latest), of a variation, of an experiment.
    index().on(t.experimentId, t.variation, t.run, t.createdAt, t.id),
    index().on(t.experimentId, t.variation, t.createdAt, t.id),
    index().on(t.experimentId, t.createdAt, t.id),
    // The sweeper looks at pending assets only.
    index("assets_pending_index").on(t.createdAt).where(sql`${t.state} = 'pending'`),
  ],
);

/** Pieces known to be in storage: reported by clients through /parts, or seen by the driver itself. */
export const assetParts = pgTable(
  "asset_parts",
  {
    assetId: uuid()
      .notNull()
      .references(() => assets.id, { onDelete: "cascade" }),
    path: text().notNull(),
    partNumber: integer().notNull(),
    etag: text().notNull(),
    size: bytes().notNull(),
    recordedAt: timestampMs().notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.assetId, t.path, t.partNumber] })],
);

export const variationInputs = pgTable(
  "variation_inputs",
  {
    experimentId: text().notNull(),
    variation: text().notNull(),
    assetId: uuid()
      .notNull()
      .references(() => assets.id, { onDelete: "cascade" }),
    linkedAt: timestampMs().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.experimentId, t.variation, t.assetId] }),
    foreignKey({
      name: "variation_inputs_variation_fk",
      columns: [t.experimentId, t.variation],
      foreignColumns: [variations.experimentId, variations.variation],
    }).onDelete("cascade"),
    index("variation_inputs_linked_index").on(t.experimentId, t.variation, t.linkedAt, t.assetId),
  ],
);

/** A create's Idempotency-Key, per token, for 24 hours. */
export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    principal: text().notNull(),
    key: text().notNull(),
    /** SHA-256 of the request, so that a key reused for another request is refused. */
    requestHash: text().notNull(),
    assetId: uuid().notNull(),
    createdAt: timestampMs().notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.principal, t.key] }), index().on(t.createdAt)],
);
