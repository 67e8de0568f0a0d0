import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Config } from "../config.js";
import { reapLostRuns } from "../db/queries/runs.js";

/**
 * Every METHODIC_REAPER_INTERVAL_S, marks lost the runs silent for longer than the heartbeat timeout.
 * It keeps no state: every instance may run it against the same database.
 */
export const reaperPlugin = fp(async (app: FastifyInstance, opts: { config: Config }) => {
  const { heartbeatTimeoutS, reaperIntervalS } = opts.config;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  const reap = async () => {
    try {
      const lost = await reapLostRuns(app.db, heartbeatTimeoutS);
      if (lost.length > 0) {
        app.log.info(
          { runs: lost.map((r) => `${r.experimentId}/${r.variation}/${r.run}`) },
          `marked ${lost.length} silent run(s) lost`,
        );
      }
    } catch (err) {
      app.log.warn({ err }, "looking for lost runs failed; trying again at the next interval");
    }
  };

  app.addHook("onReady", async () => {
    timer = setInterval(() => {
      running ??= reap().finally(() => {
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
