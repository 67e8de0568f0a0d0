import type { AssetState } from "@methodic/contract";
import { and, desc, eq, getTableColumns } from "drizzle-orm";
import type { PageRows, SortKey } from "../../lib/cursor.js";
import type { Db } from "../client.js";
import { assets, variationInputs } from "../schema/index.js";
import type { AssetRow } from "./assets.js";
import { before, newestFirst, pageWindow, selectPage } from "./util.js";

/** Outputs: the assets runs made, newest first; inputs: the assets linked to a variation. */

export interface AssetFilter {
  experimentId: string;
  variation?: string | undefined;
  run?: number | undefined;
  assetType?: string | undefined;
  state?: AssetState | undefined;
}

const matches = (f: AssetFilter) =>
  and(
    eq(assets.experimentId, f.experimentId),
    f.variation === undefined ? undefined : eq(assets.variation, f.variation),
    f.run === undefined ? undefined : eq(assets.run, f.run),
    f.assetType === undefined ? undefined : eq(assets.assetType, f.assetType),
    f.state === undefined ? undefined : eq(assets.state, f.state),
  );

const outputOrder = { createdAt: assets.createdAt, id: assets.id };

export function listAssets(
  db: Db,
  filter: AssetFilter,
  limit: number,
  after: SortKey | undefined,
): Promise<PageRows<AssetRow>> {
  const query = db
    .select({ ...getTableColumns(assets), ...pageWindow(assets.listedBytes, outputOrder) })
    .from(assets)
    .where(and(matches(filter), before(outputOrder, after)))
    .orderBy(...newestFirst(outputOrder))
    .limit(limit);
  return selectPage(db, query, outputOrder);
}

/** The newest ready asset: the first entry of assets_latest_index (or of the run's index). */
export async function latestReady(
  db: Db,
  filter: Required<Pick<AssetFilter, "experimentId" | "variation" | "assetType">> & Pick<AssetFilter, "run">,
): Promise<AssetRow | undefined> {
  const [row] = await db
    .select()
    .from(assets)
    .where(matches({ ...filter, state: "ready" }))
    .orderBy(desc(assets.createdAt), desc(assets.id))
    .limit(1);
  return row;
}

export type InputRow = AssetRow & { linkedAt: Date };

export interface InputKey {
  experimentId: string;
  variation: string;
  assetId: string;
}

/** Links the asset; `created` is false when it was linked already (and keeps its linked_at). */
export async function linkInput(db: Db, key: InputKey): Promise<{ linkedAt: Date; created: boolean }> {
  const [inserted] = await db
    .insert(variationInputs)
    .values(key)
    .onConflictDoNothing()
    .returning({ linkedAt: variationInputs.linkedAt });
  if (inserted) return { linkedAt: inserted.linkedAt, created: true };
  const [existing] = await db.select({ linkedAt: variationInputs.linkedAt }).from(variationInputs).where(isInput(key));
  if (!existing) throw new Error("linkInput: the link vanished");
  return { linkedAt: existing.linkedAt, created: false };
}

const isInput = (key: InputKey) =>
  and(
    eq(variationInputs.experimentId, key.experimentId),
    eq(variationInputs.variation, key.variation),
    eq(variationInputs.assetId, key.assetId),
  );

export async function unlinkInput(db: Db, key: InputKey): Promise<void> {
  await db.delete(variationInputs).where(isInput(key));
}

const inputOrder = { linkedAt: variationInputs.linkedAt, id: variationInputs.assetId };

export function listInputs(
  db: Db,
  experimentId: string,
  variation: string,
  limit: number,
  after: SortKey | undefined,
): Promise<PageRows<InputRow>> {
  const query = db
    .select({
      ...getTableColumns(assets),
      linkedAt: variationInputs.linkedAt,
      ...pageWindow(assets.listedBytes, inputOrder),
    })
    .from(variationInputs)
    .innerJoin(assets, eq(assets.id, variationInputs.assetId))
    .where(
      and(
        eq(variationInputs.experimentId, experimentId),
        eq(variationInputs.variation, variation),
        before(inputOrder, after),
      ),
    )
    .orderBy(...newestFirst(inputOrder))
    .limit(limit);
  return selectPage(db, query, inputOrder);
}
