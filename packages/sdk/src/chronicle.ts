import {
  type Asset,
  assetRoutes,
  type CreateExperimentBody,
  type Experiment,
  experimentRoutes,
  type UpdateExperimentBody,
} from "@methodic/contract";
import { resolveCredentials } from "./credentials.js";
import { type DownloadedFile, type DownloadOptions, downloadAsset } from "./download.js";
import { Pages } from "./pages.js";
import { Run, type RunOptions } from "./run.js";
import { Transport } from "./transport.js";
import { CreationQueue } from "./upload.js";
import { Variation } from "./variation.js";

export interface ChronicleOptions extends RunOptions {
  /** The server; else METHODIC_URL, the credentials file, or http://127.0.0.1:8080. */
  baseUrl?: string;
  /** A bearer token; else METHODIC_TOKEN or the credentials file. */
  token?: string;
  fetch?: typeof fetch;
}

/** The entry point: a connection to one Chronicle server, and handles on its runs and variations. */
export class Chronicle {
  readonly transport: Transport;
  private readonly creationQueue = new CreationQueue();

  constructor(private readonly options: ChronicleOptions = {}) {
    const { baseUrl, token } = resolveCredentials(options);
    this.transport = new Transport({ baseUrl, token, ...(options.fetch && { fetch: options.fetch }) });
  }

  get baseUrl(): string {
    return this.transport.baseUrl;
  }

  run(experimentId: string, variation: string, run: number, options: RunOptions = {}): Run {
    return new Run(this.transport, experimentId, variation, run, {
      creationQueue: this.creationQueue,
      ...this.options,
      ...options,
    });
  }

  variation(experimentId: string, variation: string): Variation {
    return new Variation(this.transport, experimentId, variation);
  }

  createExperiment(body: CreateExperimentBody): Promise<Experiment> {
    return this.transport.call(experimentRoutes.createExperiment, { body });
  }

  getExperiment(id: string): Promise<Experiment> {
    return this.transport.call(experimentRoutes.getExperiment, { params: { exp: id }, retry: true });
  }

  updateExperiment(id: string, changes: UpdateExperimentBody): Promise<Experiment> {
    return this.transport.call(experimentRoutes.updateExperiment, { params: { exp: id }, body: changes, retry: true });
  }

  listExperiments(): Pages<Experiment> {
    return new Pages((cursor) =>
      this.transport.call(experimentRoutes.listExperiments, { query: { cursor }, retry: true }),
    );
  }

  /** Downloads a ready asset's files into `targetDir`, each verified by its sha256. */
  downloadAsset(assetId: string, targetDir: string, options?: DownloadOptions): Promise<DownloadedFile[]> {
    return downloadAsset(this.transport, assetId, targetDir, options);
  }

  getAsset(id: string): Promise<Asset> {
    return this.transport.call(assetRoutes.getAsset, { params: { id }, retry: true });
  }

  /** The JSON an inline asset (an environment, a config) was stored with. */
  getAssetContent(id: string): Promise<unknown> {
    return this.transport.call(assetRoutes.getAssetContent, { params: { id }, retry: true });
  }
}
