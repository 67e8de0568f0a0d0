import { z } from "zod";
import { ExperimentId, Name, RUN_PATH, RunIndex, RunParams, Timestamp, VariationKey } from "./common.js";
import { defineRoute } from "./route.js";
import { isText, JsonObject, JsonObjectField, JsonValueField, text, utf8Length } from "./values.js";

export const MAX_COMPONENTS = 10_000;
export const MAX_PARTS = 10_000;
/** S3's bounds on a multipart part (the last part of a file may be smaller). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
/** Serialized inline content above this is refused (413): upload it as a component instead. */
export const INLINE_CONTENT_MAX_BYTES = 1024 * 1024;

export const AssetId = z.uuid().describe("Asset id: a UUIDv7, so ids sort by creation");
export const AssetType = z
  .string()
  .regex(/^[a-z][a-z0-9_.-]{0,63}$/, "must be 1 to 64 of a-z, 0-9, '_', '.' or '-', starting with a letter")
  .describe("What the asset is: checkpoint, snapshot, environment, trainer_config, ...");
export const AssetState = z.enum(["pending", "ready", "aborted"]).meta({ id: "AssetState" });
export type AssetState = z.infer<typeof AssetState>;

const PATH_RULE =
  "must be a relative POSIX path: no leading or trailing '/', no empty, '.' or '..' segment, no backslash, NUL or unpaired surrogate, at most 1024 bytes";

/**
 * One segment of a path as the OpenAPI document states the rule: anything but '/', '\\' and NUL, and
 * neither '.' nor '..' (spelled without look-arounds, which not every client's regular expressions have).
 */
const SEGMENT = "(?:[^/\\\\\\x00.][^/\\\\\\x00]*|\\.[^/\\\\\\x00.][^/\\\\\\x00]*|\\.\\.[^/\\\\\\x00]+)";

/** A file's path within its asset, safe to join under any directory. */
export const ComponentPath = z
  .string()
  .min(1, PATH_RULE)
  .max(1024, PATH_RULE)
  .refine(
    (path) =>
      isText(path) &&
      utf8Length(path) <= 1024 &&
      !path.includes("\\") &&
      path.split("/").every((segment) => segment !== "" && segment !== "." && segment !== ".."),
    PATH_RULE,
  )
  .meta({ pattern: `^(?:${SEGMENT}/)*${SEGMENT}$` })
  .describe("Relative POSIX path of the file within the asset, at most 1024 bytes of UTF-8");

export const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters");
export const ByteSize = z.int().min(0).max(Number.MAX_SAFE_INTEGER);

export const Component = z
  .strictObject({
    path: ComponentPath,
    size: ByteSize,
    sha256: Sha256,
    part_sha256: z
      .array(Sha256)
      .min(2)
      .max(MAX_PARTS)
      .optional()
      .describe(
        "For a file larger than `part_size`: the SHA-256 of each of its parts, in order, so that storage " +
          "checks every part's bytes (required on S3)",
      ),
  })
  .meta({ id: "Component" });
export type Component = z.infer<typeof Component>;

export const Asset = z
  .object({
    id: AssetId,
    asset_type: AssetType,
    name: z.string().nullable(),
    state: AssetState,
    experiment_id: ExperimentId,
    variation: VariationKey,
    run: RunIndex,
    asset_config: JsonObject,
    inline: z.boolean().describe("Inline JSON, read at /content; otherwise files, read through /download"),
    size: ByteSize.describe("Bytes in all: the components' sizes, or the serialized inline content"),
    uploaded_size: ByteSize.describe("Bytes recorded as uploaded so far"),
    components: z.array(z.object({ path: z.string(), size: ByteSize, sha256: z.string() })),
    created_at: Timestamp,
    finalized_at: Timestamp.nullable(),
  })
  .meta({ id: "Asset" });
export type Asset = z.infer<typeof Asset>;

const Headers = z.record(z.string(), z.string()).describe("Headers the PUT must send for its signature to hold");

export const SinglePut = z
  .object({ path: z.string(), url: z.url(), method: z.literal("PUT"), headers: Headers })
  .meta({ id: "SinglePut" });
export const PlannedPart = z.object({
  part_number: z.int().min(1).max(MAX_PARTS),
  offset: ByteSize,
  size: ByteSize,
  url: z.url(),
  headers: Headers.optional(),
});
export const MultipartPut = z
  .object({ path: z.string(), part_size: ByteSize, parts: z.array(PlannedPart) })
  .meta({ id: "MultipartPut" });
export const UploadPlan = z
  .object({
    expires_at: Timestamp,
    components: z
      .array(z.union([SinglePut, MultipartPut]))
      .describe(
        "What is still to be sent, in manifest order: one PUT per component up to the part size, parts above it",
      ),
    truncated: z
      .boolean()
      .describe(
        "Whether more pieces remain than this plan lists (a plan signs at most the server's " +
          "METHODIC_PLAN_MAX_PIECES): send and report these, then POST /uploads for the next page",
      ),
  })
  .meta({ id: "UploadPlan" });
export type UploadPlan = z.infer<typeof UploadPlan>;
export type SinglePut = z.infer<typeof SinglePut>;
export type MultipartPut = z.infer<typeof MultipartPut>;

const ComponentList = z
  .array(Component)
  .min(1)
  .max(MAX_COMPONENTS)
  .superRefine((components, ctx) => {
    const seen = new Set<string>();
    let total = 0;
    components.forEach((component, index) => {
      if (seen.has(component.path)) {
        ctx.addIssue({ code: "custom", path: [index, "path"], message: `repeats the path '${component.path}'` });
      }
      seen.add(component.path);
      total += component.size;
    });
    // The asset's size is their sum: it must stay a number that JavaScript and a bigint hold exactly.
    if (total > Number.MAX_SAFE_INTEGER) {
      ctx.addIssue({ code: "custom", message: "sizes add up to more than 2^53 - 1 bytes" });
    }
  });

/**
 * One object rather than a union of the two kinds, so that a mistake inside `components` is reported
 * at its own path instead of as "matches neither kind".
 */
export const CreateAssetBody = z
  .strictObject({
    asset_type: AssetType,
    name: Name.optional(),
    asset_config: JsonObjectField.optional(),
    part_size: z
      .int()
      .min(MIN_PART_SIZE)
      .max(MAX_PART_SIZE)
      .optional()
      .describe(
        "Bytes per multipart part, 5 MiB to 5 GiB, chosen by the client (needed with `part_sha256`); by " +
          "default the server's, grown so that no file needs over 10,000 parts",
      ),
    // Its size is the service's to check, which tells how to send a larger one instead.
    content: JsonValueField.optional().describe(
      "Inline: any JSON value, at most 1 MiB serialized (give this or components)",
    ),
    components: ComponentList.optional().describe("Files to upload (give this or content)"),
  })
  .superRefine((body, ctx) => {
    const inline = body.content !== undefined;
    if (inline === (body.components !== undefined)) {
      ctx.addIssue({
        code: "custom",
        path: [inline ? "components" : "content"],
        message: inline
          ? "cannot be given with content: an asset is inline JSON or files"
          : "or components is required: an asset is inline JSON (content) or files (components)",
      });
    }
  })
  // The rule above, as the OpenAPI document can say it.
  .meta({ id: "CreateAssetBody", oneOf: [{ required: ["content"] }, { required: ["components"] }] });
export type CreateAssetBody = z.infer<typeof CreateAssetBody>;

export const CreatedAsset = z
  .object({ asset: Asset, upload: UploadPlan.nullable().describe("Null for inline assets, ready at once") })
  .meta({ id: "CreatedAsset" });
export type CreatedAsset = z.infer<typeof CreatedAsset>;

export const ReportPartsBody = z
  .strictObject({
    parts: z
      .array(
        z.strictObject({
          path: ComponentPath,
          part_number: z.int().min(1).max(MAX_PARTS).optional().describe("For a multipart component's pieces"),
          etag: text(1024, 1),
        }),
      )
      .min(1)
      .max(MAX_PARTS),
  })
  .meta({ id: "ReportPartsBody" });
export type ReportPartsBody = z.infer<typeof ReportPartsBody>;

export const AssetAnswer = z.object({ asset: Asset }).meta({ id: "AssetAnswer" });
export const UploadAnswer = z.object({ upload: UploadPlan }).meta({ id: "UploadAnswer" });

export const Download = z
  .object({
    expires_at: Timestamp,
    components: z.array(z.object({ path: z.string(), size: ByteSize, sha256: z.string(), url: z.url() })),
  })
  .meta({ id: "Download" });
export type Download = z.infer<typeof Download>;

const AssetParams = z.strictObject({ id: AssetId });

export const IdempotencyKey = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/, "must be 1 to 255 printable ASCII characters")
  .describe("A repeat of a create with the same key (per token, within 24 h) answers what the first got");
const CreateAssetHeaders = z.looseObject({ "idempotency-key": IdempotencyKey.optional() });

const tag = "Assets";
const asset = "/v1/assets/:id";

export const assetRoutes = {
  createAsset: defineRoute({
    method: "POST",
    path: `${RUN_PATH}/assets`,
    summary: "Create an asset of a running or lost run: inline JSON (ready at once) or files to upload",
    description:
      "Answers 201 `{asset, upload}`. An `Idempotency-Key` header makes a retry within 24 h answer the " +
      "same asset (with a fresh plan for what is still missing) instead of creating a second one.",
    tag,
    access: "write",
    params: RunParams,
    headers: CreateAssetHeaders,
    body: CreateAssetBody,
    responses: { 201: CreatedAsset },
    errors: ["experiment_not_found", "variation_not_found", "run_not_found", "run_finished", "already_exists"],
    idempotent: "with-key",
  }),
  getAsset: defineRoute({
    method: "GET",
    path: asset,
    summary: "Read an asset",
    tag,
    access: "read",
    params: AssetParams,
    responses: { 200: Asset },
    errors: ["asset_not_found"],
  }),
  getAssetContent: defineRoute({
    method: "GET",
    path: `${asset}/content`,
    summary: "The inline JSON content of an inline asset",
    tag,
    access: "read",
    params: AssetParams,
    responses: { 200: z.unknown().describe("The JSON value, as it was given") },
    errors: ["asset_not_found", "asset_not_inline"],
  }),
  reportParts: defineRoute({
    method: "POST",
    path: `${asset}/parts`,
    summary: "Record uploaded pieces with the ETags storage answered (idempotent)",
    tag,
    access: "write",
    params: AssetParams,
    body: ReportPartsBody,
    responses: { 200: AssetAnswer },
    errors: ["asset_not_found", "asset_aborted"],
    idempotent: true,
  }),
  planUploads: defineRoute({
    method: "POST",
    path: `${asset}/uploads`,
    summary: "A fresh upload plan for what is still missing (resume after a crash or expiry)",
    tag,
    access: "write",
    params: AssetParams,
    responses: { 200: UploadAnswer },
    errors: ["asset_not_found", "asset_aborted"],
    idempotent: true,
  }),
  finalizeAsset: defineRoute({
    method: "POST",
    path: `${asset}/finalize`,
    summary: "Verify every component in storage, then pending → ready (idempotent)",
    description: "409 `asset_incomplete` with `details.missing: [{path, part_numbers?}]` while pieces are missing.",
    tag,
    access: "write",
    params: AssetParams,
    responses: { 200: AssetAnswer },
    errors: ["asset_not_found", "asset_aborted", "asset_incomplete"],
    idempotent: true,
  }),
  abortAsset: defineRoute({
    method: "POST",
    path: `${asset}/abort`,
    summary: "pending → aborted, cleaning storage (idempotent)",
    tag,
    access: "write",
    params: AssetParams,
    responses: { 200: AssetAnswer },
    errors: ["asset_not_found", "asset_state_conflict"],
    idempotent: true,
  }),
  downloadAsset: defineRoute({
    method: "GET",
    path: `${asset}/download`,
    summary: "Signed download URLs for every component of a ready asset",
    tag,
    access: "read",
    params: AssetParams,
    responses: { 200: Download },
    errors: ["asset_not_found", "asset_not_ready"],
  }),
};
