import { sql } from "drizzle-orm";
import { integer, jsonb, timestamp } from "drizzle-orm/pg-core";

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

/**
 * What a row's free-form fields take serialized, in bytes (jsonb as its text, text as it is): what a
 * list page's byte budget adds up. The database keeps it, so it is never out of date, and a list reads
 * it without reading the fields themselves.
 */
export function listedBytes(columns: { json?: string[]; text?: string[] }) {
  const terms = [
    ...(columns.json ?? []).map((name) => `coalesce(octet_length("${name}"::text), 0)`),
    ...(columns.text ?? []).map((name) => `coalesce(octet_length("${name}"), 0)`),
  ];
  return integer()
    .notNull()
    .generatedAlwaysAs(sql.raw(terms.join(" + ")));
}
