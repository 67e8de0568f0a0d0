import { ERROR_STATUS, type ErrorCode } from "@methodic/contract";

/** The one error the code throws for anything a client should hear about. */
export class ApiError extends Error {
  override name = "ApiError";

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    /** Headers the answer carries besides the error body (`Retry-After`). */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export const experimentNotFound = (exp: string) =>
  new ApiError("experiment_not_found", `Experiment '${exp}' does not exist.`);

export const variationNotFound = (exp: string, variation: string) =>
  new ApiError("variation_not_found", `Variation '${variation}' of experiment '${exp}' does not exist.`);

export const invalidRequest = (message: string, details?: Record<string, unknown>) =>
  new ApiError("invalid_request", message, details);

export const runNotFound = (exp: string, variation: string, run: number) =>
  new ApiError("run_not_found", `Run ${run} of variation '${variation}' of experiment '${exp}' does not exist.`);

export const unauthorized = (message: string) => new ApiError("unauthorized", message);

export const forbidden = (message: string) => new ApiError("forbidden", message);
