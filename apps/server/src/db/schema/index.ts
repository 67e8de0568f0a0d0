export * from "./experiments.js";
export * from "./tokens.js";
