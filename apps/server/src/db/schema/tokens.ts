import { index, pgEnum, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { timestampMs } from "./columns.js";

export const tokenScope = pgEnum("token_scope", ["read", "write", "admin"]);

export const tokens = pgTable(
  "tokens",
  {
    id: uuid().primaryKey(),
    name: text().notNull(),
    scope: tokenScope().notNull(),
    /** SHA-256 of the secret, hex: the secret itself is never stored. */
    secretHash: text().notNull().unique("tokens_secret_hash_unique"),
    createdAt: timestampMs().notNull().defaultNow(),
    revokedAt: timestampMs(),
  },
  (t) => [index().on(t.createdAt, t.id)],
);
