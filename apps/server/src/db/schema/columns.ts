import { jsonb, timestamp } from "drizzle-orm/pg-core";

/**
 * Millisecond precision, so that a timestamp survives the round trip through a JavaScript Date and a
 * list cursor compares exactly equal to the row it came from.
 */
export const timestampMs = () => timestamp({ precision: 3, withTimezone: true, mode: "date" });

export const timestamps = {
  createdAt: timestampMs().notNull().defaultNow(),
  updatedAt: timestampMs().notNull().defaultNow(),
};

export const jsonObject = () => jsonb().$type<Record<string, unknown>>();
