import { resolve } from "node:path";
import {
  type Asset,
  type AssetState,
  type FailRunBody,
  type Run as RunRecord,
  routes,
  type StartRunBody,
} from "@methodic/contract";
import { type DownloadedFile, type DownloadOptions, downloadAsset } from "./download.js";
import { ChronicleError } from "./errors.js";
import { Pages } from "./pages.js";
import type { Transport } from "./transport.js";
import { CreationQueue, DirectoryUpload, type UploadDirectoryOptions } from "./upload.js";

export interface RunOptions {
  /** Shared by the handles of one Chronicle so that assets are created in call order. */
  creationQueue?: CreationQueue;
  /** How often a started run sends a heartbeat; 30 s unless given. */
  heartbeatIntervalMs?: number;
  /** Told about heartbeats that failed even after retries; the trainer goes on regardless. */
  onHeartbeatError?: (err: unknown) => void;
  /** Bytes per part of a file uploaded in parts (uploadDirectoryAsync's `partSize` by default). */
  partSize?: number;
}

export interface InlineAssetInput {
  asset_type: string;
  content: unknown;
  name?: string;
  asset_config?: Record<string, unknown>;
}

export interface OutputsFilter {
  asset_type?: string;
  state?: AssetState;
  /** Outputs of every run of the variation, not only this one. */
  acrossRuns?: boolean;
}

/**
 * One run of a variation: `(experiment, variation, run index)`. A handle is cheap and holds no state
 * but its heartbeat timer, so a process may make one for a run another process started.
 */
export class Run {
  private timer: NodeJS.Timeout | undefined;
  /** The current heartbeat loop; a stop or a new start ends the old one. */
  private beating: object | undefined;
  private readonly uploads = new Set<DirectoryUpload>();
  private readonly creationQueue: CreationQueue;
  private readonly params: { exp: string; var: string; run: string };

  constructor(
    private readonly transport: Transport,
    readonly experimentId: string,
    readonly variation: string,
    readonly index: number,
    private readonly options: RunOptions = {},
  ) {
    this.params = { exp: experimentId, var: variation, run: String(index) };
    this.creationQueue = options.creationQueue ?? new CreationQueue();
  }

  /**
   * Starts the run (or picks up a running or lost one: start is idempotent), optionally linking its
   * Weights & Biases run, then keeps it alive with heartbeats until succeed or fail.
   */
  async start(wandb: StartRunBody = {}): Promise<RunRecord> {
    const run = await this.transport.call(routes.startRun, { params: this.params, body: wandb });
    this.startHeartbeats();
    return run;
  }

  /** One heartbeat now; the timer sends them by itself after start. */
  heartbeat() {
    return this.transport.call(routes.heartbeat, { params: this.params });
  }

  /**
   * A heartbeat every interval, each sent once the one before it has answered (or failed after its
   * retries), so that a slow server never sees two of one run at once.
   */
  private startHeartbeats(): void {
    this.stopHeartbeats();
    const interval = this.options.heartbeatIntervalMs ?? 30_000;
    const beating = {};
    this.beating = beating;
    const next = () => {
      // A heartbeat timer must never keep a finished trainer's process alive.
      this.timer = setTimeout(beat, interval).unref();
    };
    const beat = async () => {
      try {
        await this.heartbeat();
      } catch (err) {
        // A finished run needs no more; anything else is worth telling, never worth crashing for.
        if (err instanceof ChronicleError && err.code === "run_finished") this.stopHeartbeats();
        this.options.onHeartbeatError?.(err);
      }
      if (this.beating === beating) next();
    };
    next();
  }

  private stopHeartbeats(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.beating = undefined;
  }

  /**
   * Uploads a directory (a checkpoint) as one asset in the background: returns at once; `done`
   * resolves to the ready asset. With an `uploadTracker`, a crashed upload resumes where it stopped.
   */
  uploadDirectoryAsync(directory: string, options: UploadDirectoryOptions): DirectoryUpload {
    const { turn, release } = this.creationQueue.next();
    const key = {
      baseUrl: this.transport.baseUrl,
      directory: resolve(directory),
      experimentId: this.experimentId,
      variation: this.variation,
      run: this.index,
    };
    const partSize = options.partSize ?? this.options.partSize;
    const upload = new DirectoryUpload(
      this.transport,
      key,
      { ...options, ...(partSize !== undefined && { partSize }) },
      turn,
      release,
    );
    this.uploads.add(upload);
    upload.done.then(
      () => this.uploads.delete(upload),
      () => {},
    );
    return upload;
  }

  /** Waits for every upload of this handle; rejects with the first failure. */
  async waitForUploads(): Promise<void> {
    const results = await Promise.allSettled([...this.uploads].map((upload) => upload.done));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** Waits for pending uploads, then ends the run as succeeded; a failed upload leaves it running. */
  async succeed(summary?: Record<string, unknown>): Promise<RunRecord> {
    await this.waitForUploads();
    const run = await this.transport.call(routes.succeedRun, {
      params: this.params,
      body: summary === undefined ? {} : { summary },
    });
    this.stopHeartbeats();
    return run;
  }

  /** Ends the run as failed, with an Error (its stack goes into the details) or a message. */
  async fail(error?: Error | string, details?: Record<string, unknown>): Promise<RunRecord> {
    const body: FailRunBody = {};
    if (error instanceof Error) {
      body.error = `${error.name}: ${error.message}`;
      body.details = { ...(error.stack && { stack: error.stack }), ...details };
    } else {
      if (error !== undefined) body.error = error;
      if (details !== undefined) body.details = details;
    }
    const run = await this.transport.call(routes.failRun, { params: this.params, body });
    this.stopHeartbeats();
    return run;
  }

  get(): Promise<RunRecord> {
    return this.transport.call(routes.getRun, { params: this.params });
  }

  /** Stores any JSON object as this run's `environment` asset. */
  async uploadEnvironment(environment: Record<string, unknown>): Promise<Asset> {
    return this.uploadAsset({ asset_type: "environment", content: environment });
  }

  /** An inline JSON asset, ready at once. Retried safely: the create carries an Idempotency-Key. */
  async uploadAsset(input: InlineAssetInput): Promise<Asset> {
    const created = await this.transport.call(routes.createAsset, {
      params: this.params,
      body: input,
    });
    return created.asset;
  }

  /** This run's outputs, newest first; with `acrossRuns`, those of every run of the variation. */
  listOutputs(filter: OutputsFilter = {}): Pages<Asset> {
    const { acrossRuns, ...query } = filter;
    return new Pages((page) =>
      acrossRuns
        ? this.transport.call(routes.listVariationOutputs, {
            params: { exp: this.experimentId, var: this.variation },
            query: { ...query, ...page },
          })
        : this.transport.call(routes.listRunOutputs, {
            params: this.params,
            query: { ...query, ...page },
          }),
    );
  }

  /** Downloads a ready asset's files into `targetDir`, verified by sha256 (see `downloadAsset`). */
  downloadAsset(assetId: string, targetDir: string, options?: DownloadOptions): Promise<DownloadedFile[]> {
    return downloadAsset(this.transport, assetId, targetDir, options);
  }

  /** The newest ready asset of the type across every run of the variation; null when there is none. */
  async latestOutput(assetType: string): Promise<Asset | null> {
    const { asset } = await this.transport.call(routes.latestOutput, {
      params: { exp: this.experimentId, var: this.variation },
      query: { asset_type: assetType },
    });
    return asset;
  }
}
