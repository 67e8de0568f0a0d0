import {
  type Asset,
  type AssetState,
  type InputAsset,
  type PutVariationBody,
  type Run as RunRecord,
  type RunState,
  routes,
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
    return this.transport.call(routes.getVariation, { params: this.params });
  }

  /** Creates the variation, or sets the given fields of an existing one. */
  put(body: PutVariationBody = {}): Promise<VariationRecord> {
    return this.transport.call(routes.putVariation, { params: this.params, body });
  }

  /** Outputs of every run of the variation (or of `run`), newest first. */
  listOutputs(filter: { asset_type?: string; state?: AssetState; run?: number } = {}): Pages<Asset> {
    return new Pages((page) =>
      this.transport.call(routes.listVariationOutputs, {
        params: this.params,
        query: { ...filter, ...page },
      }),
    );
  }

  /** Runs of the variation, newest first. */
  listRuns(filter: { state?: RunState } = {}): Pages<RunRecord> {
    return new Pages((page) =>
      this.transport.call(routes.listVariationRuns, {
        params: this.params,
        query: { ...filter, ...page },
      }),
    );
  }

  /** The newest ready asset of the type across the variation's runs; null when there is none. */
  async latestOutput(assetType: string): Promise<Asset | null> {
    const { asset } = await this.transport.call(routes.latestOutput, {
      params: this.params,
      query: { asset_type: assetType },
    });
    return asset;
  }

  listInputs(): Pages<InputAsset> {
    return new Pages((page) => this.transport.call(routes.listInputs, { params: this.params, query: page }));
  }

  /** Links a ready asset (of any variation of any experiment) as an input; idempotent. */
  linkInput(assetId: string): Promise<InputAsset> {
    return this.transport.call(routes.linkInput, { params: { ...this.params, asset_id: assetId } });
  }

  async unlinkInput(assetId: string): Promise<void> {
    await this.transport.call(routes.unlinkInput, { params: { ...this.params, asset_id: assetId } });
  }
}
