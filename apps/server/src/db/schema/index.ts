export * from "./assets.js";
export * from "./experiments.js";
export * from "./tokens.js";
