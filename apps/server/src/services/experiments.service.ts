import {
  type CreateExperimentBody,
  type Experiment,
  ExperimentId,
  type ListQuery,
  type Page,
  type UpdateExperimentBody,
} from "@methodic/contract";
import type { Db } from "../db/client.js";
import * as q from "../db/queries/experiments.js";
import { ApiError, experimentNotFound } from "../errors.js";
import { decodeCursor, toPage } from "../lib/cursor.js";

export function toExperiment(row: q.ExperimentRow): Experiment {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    wandb_entity: row.wandbEntity,
    wandb_project: row.wandbProject,
    config: row.config,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

export async function createExperiment(db: Db, body: CreateExperimentBody): Promise<Experiment> {
  const row = await q.insertExperiment(db, {
    id: body.id,
    name: body.name ?? null,
    description: body.description ?? null,
    wandbEntity: body.wandb_entity ?? null,
    wandbProject: body.wandb_project ?? null,
    config: body.config ?? {},
  });
  if (!row) throw new ApiError("already_exists", `Experiment '${body.id}' already exists.`);
  return toExperiment(row);
}

export async function getExperiment(db: Db, id: string): Promise<Experiment> {
  const row = await q.findExperiment(db, id);
  if (!row) throw experimentNotFound(id);
  return toExperiment(row);
}

export async function listExperiments(db: Db, query: ListQuery): Promise<Page<Experiment>> {
  const page = await q.listExperiments(db, query.limit, decodeCursor(query.cursor, [ExperimentId]));
  return toPage(page, (row) => [row.createdAt, row.id], toExperiment);
}

export async function updateExperiment(db: Db, id: string, body: UpdateExperimentBody): Promise<Experiment> {
  const row = await q.updateExperiment(db, id, {
    ...(body.name !== undefined && { name: body.name }),
    ...(body.description !== undefined && { description: body.description }),
    ...(body.wandb_entity !== undefined && { wandbEntity: body.wandb_entity }),
    ...(body.wandb_project !== undefined && { wandbProject: body.wandb_project }),
    ...(body.config !== undefined && { config: body.config }),
  });
  if (!row) throw experimentNotFound(id);
  return toExperiment(row);
}

/** Throws experiment_not_found unless the experiment exists. */
export async function assertExperimentExists(db: Db, id: string): Promise<void> {
  if (!(await q.findExperiment(db, id))) throw experimentNotFound(id);
}
