import { type ListQuery, type Page, type PutVariationBody, type Variation, VariationKey } from "@methodic/contract";
import type { Db } from "../db/client.js";
import { sqlState } from "../db/client.js";
import * as q from "../db/queries/variations.js";
import { experimentNotFound, variationNotFound } from "../errors.js";
import { decodeCursor, toPage } from "../lib/cursor.js";
import { assertExperimentExists } from "./experiments.service.js";

const FOREIGN_KEY_VIOLATION = "23503";

export function toVariation(row: q.VariationRow): Variation {
  return {
    experiment_id: row.experimentId,
    variation: row.variation,
    description: row.description,
    config: row.config,
    run_counts: row.runCounts,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

export async function putVariation(
  db: Db,
  exp: string,
  variation: string,
  body: PutVariationBody = {},
): Promise<{ variation: Variation; created: boolean }> {
  try {
    const { row, created } = await q.upsertVariation(db, exp, variation, {
      ...(body.description !== undefined && { description: body.description }),
      ...(body.config !== undefined && { config: body.config }),
    });
    return { variation: toVariation(row), created };
  } catch (err) {
    if (sqlState(err) === FOREIGN_KEY_VIOLATION) throw experimentNotFound(exp);
    throw err;
  }
}

export async function getVariation(db: Db, exp: string, variation: string): Promise<Variation> {
  const row = await q.findVariation(db, exp, variation);
  if (row) return toVariation(row);
  await assertExperimentExists(db, exp);
  throw variationNotFound(exp, variation);
}

export async function listVariations(db: Db, exp: string, query: ListQuery): Promise<Page<Variation>> {
  const page = await q.listVariations(db, exp, query.limit, decodeCursor(query.cursor, [VariationKey]));
  // An empty page is the one case where a missing experiment would otherwise go unnoticed.
  if (page.rows.length === 0) await assertExperimentExists(db, exp);
  return toPage(page, (row) => [row.createdAt, row.variation], toVariation);
}
