import {
  type Asset,
  type AssetState,
  type CreatedToken,
  type CreateExperimentBody,
  type CreateTokenBody,
  type Experiment,
  type Readiness,
  type Run as RunRecord,
  type RunState,
  routes,
  type Token,
  type UpdateExperimentBody,
  type Variation as VariationRecord,
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
  /** Per request to the API: one unanswered for this long is abandoned (and retried if safe); 60 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** The entry point: a connection to one Chronicle server, and handles on its runs and variations. */
export class Chronicle {
  readonly transport: Transport;
  private readonly creationQueue = new CreationQueue();

  constructor(private readonly options: ChronicleOptions = {}) {
    const { baseUrl, token } = resolveCredentials(options);
    this.transport = new Transport({
      baseUrl,
      token,
      ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
      ...(options.fetch && { fetch: options.fetch }),
    });
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
    return this.transport.call(routes.createExperiment, { body });
  }

  getExperiment(id: string): Promise<Experiment> {
    return this.transport.call(routes.getExperiment, { params: { exp: id } });
  }

  updateExperiment(id: string, changes: UpdateExperimentBody): Promise<Experiment> {
    return this.transport.call(routes.updateExperiment, { params: { exp: id }, body: changes });
  }

  listExperiments(): Pages<Experiment> {
    return new Pages((page) => this.transport.call(routes.listExperiments, { query: page }));
  }

  /** The experiment's variations, each with its run counts by state. */
  listVariations(experimentId: string): Pages<VariationRecord> {
    return new Pages((page) =>
      this.transport.call(routes.listVariations, { params: { exp: experimentId }, query: page }),
    );
  }

  /** Runs of an experiment, newest first; of one variation, or in one state, when asked. */
  listRuns(experimentId: string, filter: { variation?: string; state?: RunState } = {}): Pages<RunRecord> {
    const { variation, ...query } = filter;
    return new Pages((page) =>
      variation === undefined
        ? this.transport.call(routes.listExperimentRuns, {
            params: { exp: experimentId },
            query: { ...query, ...page },
          })
        : this.transport.call(routes.listVariationRuns, {
            params: { exp: experimentId, var: variation },
            query: { ...query, ...page },
          }),
    );
  }

  /**
   * Outputs of an experiment, newest first: of every variation, or of one (and of one of its runs),
   * filtered by type and state when asked.
   */
  listOutputs(
    experimentId: string,
    filter: { variation?: string; run?: number; asset_type?: string; state?: AssetState } = {},
  ): Pages<Asset> {
    const { variation, run, ...query } = filter;
    if (run !== undefined && variation === undefined) throw new TypeError("listOutputs: `run` needs a `variation`");
    return new Pages((page) =>
      variation === undefined
        ? this.transport.call(routes.listExperimentOutputs, {
            params: { exp: experimentId },
            query: { ...query, ...page },
          })
        : this.transport.call(routes.listVariationOutputs, {
            params: { exp: experimentId, var: variation },
            query: { ...query, ...(run !== undefined && { run }), ...page },
          }),
    );
  }

  /** Creates a token (an admin token's right); its secret is in this answer only. */
  createToken(body: CreateTokenBody): Promise<CreatedToken> {
    return this.transport.call(routes.createToken, { body });
  }

  /** Tokens not revoked, newest first, never with their secrets. */
  listTokens(): Pages<Token> {
    return new Pages((page) => this.transport.call(routes.listTokens, { query: page }));
  }

  async revokeToken(id: string): Promise<void> {
    await this.transport.call(routes.revokeToken, { params: { id } });
  }

  /** Whether the server and its database and storage answer (`/readyz`); rejects when not. */
  ready(): Promise<Readiness> {
    return this.transport.call(routes.readyz, {});
  }

  /** Downloads a ready asset's files into `targetDir`, each verified by its sha256. */
  downloadAsset(assetId: string, targetDir: string, options?: DownloadOptions): Promise<DownloadedFile[]> {
    return downloadAsset(this.transport, assetId, targetDir, options);
  }

  getAsset(id: string): Promise<Asset> {
    return this.transport.call(routes.getAsset, { params: { id } });
  }

  /** The JSON an inline asset (an environment, a config) was stored with. */
  getAssetContent(id: string): Promise<unknown> {
    return this.transport.call(routes.getAssetContent, { params: { id } });
  }
}
