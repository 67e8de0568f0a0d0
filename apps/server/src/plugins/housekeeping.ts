import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Config } from "../config.js";
import { sweepAbandoned } from "../services/assets.service.js";
import { reapLostRuns } from "../services/runs.service.js";

/**
 * Every METHODIC_REAPER_INTERVAL_S: marks lost the runs silent for longer than the heartbeat timeout,
 * and aborts pending assets older than METHODIC_PENDING_ASSET_TTL_S, cleaning their storage. It keeps
 * no state: every instance may run it against the same database.
 */
export const housekeepingPlugin = fp(async (app: FastifyInstance, opts: { config: Config }) => {
  const { heartbeatTimeoutS, reaperIntervalS, pendingAssetTtlS } = opts.config;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  const reap = async () => {
    const lost = await reapLostRuns(app.db, heartbeatTimeoutS);
    if (lost.length > 0) {
      app.log.info(
        { runs: lost.map((r) => `${r.experimentId}/${r.variation}/${r.run}`) },
        `marked ${lost.length} silent run(s) lost`,
      );
    }
  };

  const sweep = async () => {
    const ctx = { db: app.db, storage: app.storage, config: app.config };
    const aborted = await sweepAbandoned(ctx, pendingAssetTtlS, (err) =>
      app.log.warn({ err }, "cleaning an abandoned asset's storage failed; continuing"),
    );
    if (aborted.length > 0) app.log.info({ assets: aborted }, `aborted ${aborted.length} abandoned upload(s)`);
  };

  const tick = async () => {
    for (const [what, task] of [
      ["looking for lost runs", reap],
      ["sweeping abandoned uploads", sweep],
    ] as const) {
      try {
        await task();
      } catch (err) {
        app.log.warn({ err }, `${what} failed; trying again at the next interval`);
      }
    }
  };

  app.addHook("onReady", async () => {
    timer = setInterval(() => {
      running ??= tick().finally(() => {
        running = undefined;
      });
    }, reaperIntervalS * 1000);
    timer.unref();
  });

  app.addHook("preClose", async () => {
    clearInterval(timer);
    await running;
  });
});
