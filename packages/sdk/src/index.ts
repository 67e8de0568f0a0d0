export type {
  Asset,
  CreatedToken,
  CreateExperimentBody,
  Experiment,
  InputAsset,
  Page,
  Run as RunRecord,
  RunState,
  StartRunBody,
  Token,
  UpdateExperimentBody,
  Variation as VariationRecord,
} from "@methodic/contract";
export { Chronicle, type ChronicleOptions } from "./chronicle.js";
export { credentialsPath, readCredentialsFile, resolveCredentials, saveCredentials } from "./credentials.js";
export {
  type DownloadedFile,
  type DownloadOptions,
  type DownloadProgress,
  downloadAsset,
} from "./download.js";
export { collectEnvironment } from "./environment.js";
export {
  AuthError,
  ChronicleError,
  ConflictError,
  NotFoundError,
  UnavailableError,
  ValidationError,
} from "./errors.js";
export { type PageQuery, Pages } from "./pages.js";
export { type InlineAssetInput, type OutputsFilter, Run, type RunOptions } from "./run.js";
export {
  DirectoryUpload,
  type TrackedKey,
  type TrackedUpload,
  type UploadDirectoryOptions,
  type UploadProgress,
  type UploadTrackerLike,
} from "./upload.js";
export { Variation } from "./variation.js";
