import { z } from "zod";
import { JsonObject } from "./values.js";

/** Every error code the API answers with, and the HTTP status that goes with it. */
export const ERROR_STATUS = {
  invalid_request: 400,
  wandb_project_required: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  experiment_not_found: 404,
  variation_not_found: 404,
  run_not_found: 404,
  asset_not_found: 404,
  request_timeout: 408,
  already_exists: 409,
  run_finished: 409,
  run_state_conflict: 409,
  asset_incomplete: 409,
  asset_aborted: 409,
  asset_not_ready: 409,
  asset_state_conflict: 409,
  asset_not_inline: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  range_not_satisfiable: 416,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_STATUS;
export const ErrorCode = z.enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]]);

/** What every error answer says: a code to branch on, a sentence for people, the request to quote. */
export const ErrorDetail = z.object({
  code: ErrorCode,
  message: z.string().describe("One human sentence"),
  details: JsonObject.optional(),
  request_id: z.string().describe("The request's id, also in the x-request-id header and the server's log"),
});

export const ErrorBody = z.object({ error: ErrorDetail }).meta({ id: "Error" });
export type ErrorBody = z.infer<typeof ErrorBody>;

/** One failing field of a 400 `invalid_request`, listed in `details.fields`. */
export interface FieldError {
  /** Where the field is: `body`, `query`, `params` or `headers`. */
  in: string;
  /** Dotted path within that part, empty for the part as a whole. */
  path: string;
  message: string;
}
