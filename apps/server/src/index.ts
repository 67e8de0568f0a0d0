export { type AppOptions, buildApp, chronicle } from "./app.js";
export { type Config, ConfigError, loadConfig } from "./config.js";
export type { Database, DatabaseTarget } from "./db/client.js";
export { DataDirLockedError } from "./lib/data-dir-lock.js";
export { type Serving, serve, startupMessage } from "./serve.js";
