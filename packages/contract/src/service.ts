import { z } from "zod";
import { defineRoute } from "./route.js";

export const Health = z.object({ status: z.literal("ok") }).meta({ id: "Health" });
export type Health = z.infer<typeof Health>;

export const CheckState = z.enum(["ok", "unavailable"]);
export const Readiness = z
  .object({
    status: z.literal("ok"),
    checks: z.record(z.string(), CheckState).describe("Each dependency and its state"),
  })
  .meta({ id: "Readiness" });
export type Readiness = z.infer<typeof Readiness>;

const tag = "Service";

export const serviceRoutes = {
  healthz: defineRoute({
    method: "GET",
    path: "/healthz",
    summary: "Liveness: the process is up",
    tag,
    access: "none",
    responses: { 200: Health },
  }),
  readyz: defineRoute({
    method: "GET",
    path: "/readyz",
    summary: "Readiness: the database and storage are reachable (503 otherwise)",
    tag,
    access: "none",
    responses: { 200: Readiness },
  }),
};
