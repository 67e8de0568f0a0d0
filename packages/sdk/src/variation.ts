import {
  type Asset,
  type AssetState,
  assetRoutes,
  experimentRoutes,
  type InputAsset,
  type PutVariationBody,
  type Run as RunRecord,
  type RunState,
  runRoutes,
  type Variation as VariationRecord,
} from "@methodic/contract";
import { Pages } from "./pages.js";
import type { Transport } from "./transport.js";

export class Variation {
  private readonly params: { exp: string; var: string };

  constructor(
    private readonly transport: Transport,
    readonly experimentId: string,
    readonly variation: string,
  ) {
    this.params = { exp: experimentId, var: variation };
  }

  get(): Promise<VariationRecord> {
    return this.transport.call(experimentRoutes.getVariation, { params: this.params, retry: true });
  }

  /** Creates the variation, or sets the given fields of an existing one. */
  put(body: PutVariationBody = {}): Promise<VariationRecord> {
    return this.transport.call(experimentRoutes.putVariation, { params: this.params, body, retry: true });
  }

  /** Outputs of every run of the variation (or of `run`), newest first. */
  listOutputs(filter: { asset_type?: string; state?: AssetState; run?: number } = {}): Pages<Asset> {
    return new Pages((page) =>
      this.transport.call(assetRoutes.listVariationOutputs, {
        params: this.params,
        query: { ...filter, ...page },
        retry: true,
      }),
    );
  }

  /** Runs of the variation, newest first. */
  listRuns(filter: { state?: RunState } = {}): Pages<RunRecord> {
    return new Pages((page) =>
      this.transport.call(runRoutes.listVariationRuns, {
        params: this.params,
        query: { ...filter, ...page },
        retry: true,
      }),
    );
  }

  /** The newest ready asset of the type across the variation's runs; null when there is none. */
  async latestOutput(assetType: string): Promise<Asset | null> {
    const { asset } = await this.transport.call(assetRoutes.latestOutput, {
      params: this.params,
      query: { asset_type: assetType },
      retry: true,
    });
    return asset;
  }

  listInputs(): Pages<InputAsset> {
    return new Pages((page) =>
      this.transport.call(assetRoutes.listInputs, { params: this.params, query: page, retry: true }),
    );
  }

  /** Links a ready asset (of any variation of any experiment) as an input; idempotent. */
  linkInput(assetId: string): Promise<InputAsset> {
    return this.transport.call(assetRoutes.linkInput, { params: { ...this.params, asset_id: assetId }, retry: true });
  }

  async unlinkInput(assetId: string): Promise<void> {
    await this.transport.call(assetRoutes.unlinkInput, { params: { ...this.params, asset_id: assetId }, retry: true });
  }
}
