export * from "./common.js";
export * from "./errors.js";
export * from "./experiments.js";
export * from "./route.js";
export * from "./service.js";

import { experimentRoutes } from "./experiments.js";
import { serviceRoutes } from "./service.js";

/** Every endpoint of the API, by operation name. */
export const routes = {
  ...serviceRoutes,
  ...experimentRoutes,
};
export type Routes = typeof routes;
export type RouteName = keyof Routes;
