import { serviceRoutes as api } from "@methodic/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { ApiError } from "../errors.js";
import { routeOf } from "./define.js";

const PING_TIMEOUT_MS = 2_000;

async function reachable(check: () => Promise<void>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("timed out")), PING_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export const serviceRoutes: FastifyPluginAsyncZod = async (app) => {
  app.route({
    ...routeOf(api.healthz),
    handler: async () => ({ status: "ok" as const }),
  });

  app.route({
    ...routeOf(api.readyz),
    handler: async () => {
      const [database, storage] = await Promise.all([
        reachable(app.database.ping),
        reachable(() => app.storage.ping()),
      ]);
      const state = (ok: boolean) => (ok ? ("ok" as const) : ("unavailable" as const));
      const checks = { database: state(database), storage: state(storage) };
      if (Object.values(checks).some((state) => state !== "ok")) {
        throw new ApiError("unavailable", "Not ready: a dependency is unreachable.", { checks });
      }
      return { status: "ok" as const, checks };
    },
  });
};
