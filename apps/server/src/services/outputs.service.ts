import {
  type Asset,
  AssetId,
  type ExperimentOutputsQuery,
  type InputAsset,
  type LatestQuery,
  type ListQuery,
  type Page,
} from "@methodic/contract";
import type { Db } from "../db/client.js";
import { findAsset } from "../db/queries/assets.js";
import { latestReady, linkInput, listAssets, listInputs, unlinkInput } from "../db/queries/outputs.js";
import { findRun } from "../db/queries/runs.js";
import { findVariation } from "../db/queries/variations.js";
import { ApiError, variationNotFound } from "../errors.js";
import { decodeCursor, toPage } from "../lib/cursor.js";
import { assetNotFound, toAsset } from "./assets.service.js";
import { assertExperimentExists } from "./experiments.service.js";
import { missingRun } from "./runs.service.js";

/** Which outputs: of an experiment, of one variation, or of one run (`scope` says which must exist). */
export interface OutputsScope {
  exp: string;
  var?: string | undefined;
  run?: number | undefined;
  scope: "experiment" | "variation" | "run";
}

async function assertScopeExists(db: Db, s: OutputsScope): Promise<void> {
  if (s.scope === "run" && s.var !== undefined && s.run !== undefined) {
    const ref = { exp: s.exp, var: s.var, run: s.run };
    if (!(await findRun(db, { experimentId: s.exp, variation: s.var, run: s.run }))) throw await missingRun(db, ref);
  } else if (s.scope === "variation" && s.var !== undefined) {
    await assertVariationExists(db, s.exp, s.var);
  } else {
    await assertExperimentExists(db, s.exp);
  }
}

async function assertVariationExists(db: Db, exp: string, variation: string): Promise<void> {
  if (await findVariation(db, exp, variation)) return;
  await assertExperimentExists(db, exp);
  throw variationNotFound(exp, variation);
}

export async function listOutputs(
  db: Db,
  scope: OutputsScope,
  query: Omit<ExperimentOutputsQuery, "variation" | "run">,
): Promise<Page<Asset>> {
  const page = await listAssets(
    db,
    {
      experimentId: scope.exp,
      variation: scope.var,
      run: scope.run,
      assetType: query.asset_type,
      state: query.state,
    },
    query.limit,
    decodeCursor(query.cursor, [AssetId]),
  );
  // Only an empty page can hide a missing parent; a filter (variation, run) of a wider list may be empty.
  if (page.rows.length === 0) await assertScopeExists(db, scope);
  return toPage(page, (row) => [row.createdAt, row.id], toAsset);
}

export async function latestOutput(db: Db, exp: string, variation: string, query: LatestQuery) {
  const row = await latestReady(db, {
    experimentId: exp,
    variation,
    assetType: query.asset_type,
    run: query.run,
  });
  if (!row) await assertVariationExists(db, exp, variation);
  return { asset: row ? toAsset(row) : null };
}

export async function listVariationInputs(
  db: Db,
  exp: string,
  variation: string,
  query: ListQuery,
): Promise<Page<InputAsset>> {
  const page = await listInputs(db, exp, variation, query.limit, decodeCursor(query.cursor, [AssetId]));
  if (page.rows.length === 0) await assertVariationExists(db, exp, variation);
  return toPage(
    page,
    (row) => [row.linkedAt, row.id],
    (row) => ({
      ...toAsset(row),
      linked_at: row.linkedAt.toISOString(),
    }),
  );
}

export async function link(
  db: Db,
  exp: string,
  variation: string,
  assetId: string,
): Promise<{ input: InputAsset; created: boolean }> {
  await assertVariationExists(db, exp, variation);
  const row = await findAsset(db, assetId);
  if (!row) throw assetNotFound(assetId);
  if (row.state !== "ready") {
    throw new ApiError("asset_not_ready", `Asset ${assetId} is ${row.state}; only ready assets can be inputs.`);
  }
  const { linkedAt, created } = await linkInput(db, { experimentId: exp, variation, assetId });
  return { input: { ...toAsset(row), linked_at: linkedAt.toISOString() }, created };
}

export async function unlink(db: Db, exp: string, variation: string, assetId: string): Promise<void> {
  await assertVariationExists(db, exp, variation);
  await unlinkInput(db, { experimentId: exp, variation, assetId });
}
