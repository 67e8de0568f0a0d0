import { createHash } from "node:crypto";
import { expect } from "vitest";
import { type Api, apiFor } from "./app.js";

export { apiFor };

export const MiB = 1024 * 1024;
/** The smallest part size the server accepts (S3's minimum), used by the multipart tests. */
export const PART_SIZE = 5 * MiB;

export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

export interface RunRef {
  exp: string;
  variation: string;
  run: number;
}

export const runPath = ({ exp, variation, run }: RunRef) =>
  `/v1/experiments/${exp}/variations/${variation}/runs/${run}`;

/** Creates the experiment unless it exists, then starts the run. */
export async function startRun(api: Api, exp: string, variation = "v", run = 0): Promise<RunRef> {
  const created = await api.request({ method: "POST", url: "/v1/experiments", payload: { id: exp } });
  expect([201, 409]).toContain(created.status);
  const ref = { exp, variation, run };
  const started = await api.request({ method: "POST", url: `${runPath(ref)}/start` });
  expect(started.status).toBe(200);
  return ref;
}

export async function endRun(api: Api, ref: RunRef, how: "succeed" | "fail" = "succeed") {
  const res = await api.request({ method: "POST", url: `${runPath(ref)}/${how}` });
  expect(res.status).toBe(200);
}

export function createAsset(api: Api, ref: RunRef, payload: object, headers: Record<string, string> = {}) {
  return api.request({ method: "POST", url: `${runPath(ref)}/assets`, payload, headers });
}

/** The first page of a run's outputs. */
export const runOutputs = (api: Api, ref: RunRef) => api.request({ method: "GET", url: `${runPath(ref)}/outputs` });

/** An inline asset, expected to be created. */
export async function createInline(api: Api, ref: RunRef, asset_type: string, content: unknown, extra: object = {}) {
  const res = await createAsset(api, ref, { asset_type, content, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.asset;
}

/** A file of an asset in memory. */
export interface File {
  path: string;
  bytes: Buffer;
}

export const manifest = (files: File[]) =>
  files.map(({ path, bytes }) => ({ path, size: bytes.length, sha256: sha256(bytes) }));

/** The SHA-256 of each part of a file larger than the part size. */
export function partHashes(bytes: Buffer, partSize: number): string[] {
  const hashes: string[] = [];
  for (let offset = 0; offset < bytes.length; offset += partSize) {
    hashes.push(sha256(bytes.subarray(offset, offset + partSize)));
  }
  return hashes;
}

/**
 * A create body of these files, as a careful client writes it: with a file larger than PART_SIZE
 * among them, `part_size` and each large file's part hashes (which S3 storage requires).
 */
export function filesBody(files: File[], extra: { part_size?: number } & Record<string, unknown> = {}) {
  const partSize = extra.part_size ?? PART_SIZE;
  const multipart = files.some((file) => file.bytes.length > partSize);
  const entries = manifest(files);
  return {
    asset_type: "checkpoint",
    ...(multipart && { part_size: partSize }),
    components: files.map((file, i) => ({
      ...entries[i]!,
      ...(file.bytes.length > partSize && { part_sha256: partHashes(file.bytes, partSize) }),
    })),
    ...extra,
  };
}

/** A component asset of these files, expected to be created: `{asset, upload}`. */
export async function createFiles(
  api: Api,
  ref: RunRef,
  files: File[],
  extra: Record<string, unknown> = {},
): Promise<{ asset: any; upload: Plan }> {
  const res = await createAsset(api, ref, filesBody(files, extra));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

export interface Plan {
  expires_at: string;
  components: Array<
    | { path: string; url: string; method: "PUT"; headers: Record<string, string> }
    | {
        path: string;
        part_size: number;
        parts: Array<{
          part_number: number;
          offset: number;
          size: number;
          url: string;
          headers?: Record<string, string>;
        }>;
      }
  >;
}

/** One PUT of a plan: a whole component (no part_number) or one part of a multipart one. */
export interface Piece {
  path: string;
  part_number?: number;
  offset: number;
  size: number;
  url: string;
  headers: Record<string, string>;
}

/** Every PUT a plan asks for; single PUTs cover their whole file (`size` from the files given). */
export function pieces(plan: Plan, files: File[]): Piece[] {
  return plan.components.flatMap((component): Piece[] => {
    if ("parts" in component) {
      return component.parts.map((part) => ({
        path: component.path,
        part_number: part.part_number,
        offset: part.offset,
        size: part.size,
        url: part.url,
        headers: part.headers ?? {},
      }));
    }
    const file = files.find((f) => f.path === component.path);
    if (!file) throw new Error(`the plan names ${component.path}, which is not a file of the asset`);
    return [
      { path: component.path, offset: 0, size: file.bytes.length, url: component.url, headers: component.headers },
    ];
  });
}

/** The path and query of an absolute blob URL, for app.inject. */
export function local(url: string): string {
  const parsed = new URL(url);
  return parsed.pathname + parsed.search;
}

export function bytesOf(piece: Piece, files: File[]): Buffer {
  const file = files.find((f) => f.path === piece.path);
  if (!file) throw new Error(`no file ${piece.path}`);
  return file.bytes.subarray(piece.offset, piece.offset + piece.size);
}

/** Whether a URL is served by the app itself (the local driver) rather than by object storage. */
const servedByApp = (api: Api, url: string) => new URL(url).origin === new URL(api.app.config.publicUrl).origin;

/** PUTs bytes to a blob URL without a bearer token, sending the headers the plan asks for. */
export async function put(api: Api, url: string, body: Buffer, headers: Record<string, string> = {}) {
  const sent = Object.fromEntries(Object.entries(headers).filter(([key]) => key.toLowerCase() !== "content-length"));
  if (!servedByApp(api, url)) {
    const res = await fetch(url, { method: "PUT", body, headers: sent });
    return { status: res.status, headers: Object.fromEntries(res.headers), text: await res.text() };
  }
  const res = await api.app.inject({
    method: "PUT",
    url: local(url),
    payload: body,
    headers: { "content-type": "application/octet-stream", ...sent },
  });
  return { status: res.statusCode, headers: res.headers, text: res.body };
}

/** Sends one piece's exact bytes; expects 200 with an ETag and returns it. */
export async function putPiece(api: Api, piece: Piece, files: File[]): Promise<string> {
  const res = await put(api, piece.url, bytesOf(piece, files), piece.headers);
  expect(res.status, `PUT ${piece.path} #${piece.part_number ?? "-"}: ${res.text}`).toBe(200);
  expect(typeof res.headers.etag).toBe("string");
  return res.headers.etag as string;
}

/**
 * Uploads every piece of the plan (or those `which` keeps); returns what `/parts` takes. Object storage
 * does not tell the server what arrived, so there the pieces are reported, as a client must.
 */
export async function upload(api: Api, plan: Plan, files: File[], which: (piece: Piece) => boolean = () => true) {
  const reported: Array<{ path: string; part_number?: number; etag: string }> = [];
  for (const piece of pieces(plan, files).filter(which)) {
    const etag = await putPiece(api, piece, files);
    reported.push({
      path: piece.path,
      ...(piece.part_number !== undefined && { part_number: piece.part_number }),
      etag,
    });
  }
  if (api.app.storage.kind === "s3" && reported.length > 0) await reportTo(api, plan, reported);
  return reported;
}

/** Reports pieces for the asset a plan belongs to (its id is in every storage key). */
async function reportTo(api: Api, plan: Plan, parts: Array<{ path: string; part_number?: number; etag: string }>) {
  const first = plan.components[0];
  const url = first && ("parts" in first ? first.parts[0]?.url : first.url);
  const id = url && /assets\/([0-9a-f-]{36})\//.exec(new URL(url).pathname)?.[1];
  if (!id) throw new Error("cannot tell the asset of this plan");
  const res = await api.request({ method: "POST", url: `/v1/assets/${id}/parts`, payload: { parts } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

export const assetCall = (api: Api, id: string, action: string, payload?: object) =>
  api.request({ method: "POST", url: `/v1/assets/${id}/${action}`, ...(payload && { payload }) });

export async function finalize(api: Api, id: string) {
  const res = await assetCall(api, id, "finalize");
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.asset;
}

export async function getAsset(api: Api, id: string) {
  const res = await api.request({ method: "GET", url: `/v1/assets/${id}` });
  expect(res.status).toBe(200);
  return res.body;
}

/** GETs a blob URL without a bearer token. */
export async function fetchBlob(api: Api, url: string, headers: Record<string, string> = {}) {
  if (!servedByApp(api, url)) {
    const res = await fetch(url, { headers });
    const bytes = Buffer.from(await res.arrayBuffer());
    return { status: res.status, headers: Object.fromEntries(res.headers) as Record<string, string>, bytes };
  }
  const res = await api.app.inject({ method: "GET", url: local(url), headers });
  return { status: res.statusCode, headers: res.headers, bytes: res.rawPayload };
}

/** The download plan of a ready asset. */
export async function download(api: Api, id: string) {
  const res = await api.request({ method: "GET", url: `/v1/assets/${id}/download` });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as {
    expires_at: string;
    components: Array<{ path: string; size: number; sha256: string; url: string }>;
  };
}

/** Every component of a ready asset, downloaded through its URL. */
export async function downloadAll(api: Api, id: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const component of (await download(api, id)).components) {
    const res = await fetchBlob(api, component.url);
    expect(res.status, component.path).toBe(200);
    files.set(component.path, res.bytes);
  }
  return files;
}

/** Creates, uploads and finalizes a component asset; answers the ready asset. */
export async function readyAsset(api: Api, ref: RunRef, files: File[], extra: Record<string, unknown> = {}) {
  const created = await createFiles(api, ref, files, extra);
  await upload(api, created.upload, files);
  return finalize(api, created.asset.id);
}

/** A write token of its own (for idempotency keys, which are per token). */
export async function writeToken(api: Api, name: string): Promise<string> {
  const res = await api.request({ method: "POST", url: "/v1/tokens", payload: { name, scope: "write" } });
  expect(res.status).toBe(201);
  return res.body.token;
}

export const text = (path: string, content: string): File => ({ path, bytes: Buffer.from(content) });
