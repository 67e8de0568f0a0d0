export * from "./assets.js";
export * from "./common.js";
export * from "./errors.js";
export * from "./experiments.js";
export * from "./outputs.js";
export * from "./route.js";
export * from "./runs.js";
export * from "./service.js";
export * from "./tokens.js";
export * from "./values.js";
export * from "./variations.js";

import { assetRoutes } from "./assets.js";
import { experimentRoutes } from "./experiments.js";
import { outputRoutes } from "./outputs.js";
import { runRoutes } from "./runs.js";
import { serviceRoutes } from "./service.js";
import { tokenRoutes } from "./tokens.js";
import { variationRoutes } from "./variations.js";

/** Every endpoint of the API, by operation name. */
export const routes = {
  ...serviceRoutes,
  ...experimentRoutes,
  ...variationRoutes,
  ...runRoutes,
  ...assetRoutes,
  ...outputRoutes,
  ...tokenRoutes,
};
export type Routes = typeof routes;
export type RouteName = keyof Routes;
