/**
 * `@methodic/server/testing`: the one test harness. The server's own tests and those of its clients
 * (SDK, CLI, MCP, examples, benchmarks) start databases, storage, servers and child processes through
 * it, the same way; nothing else of the server is imported by them.
 */
export {
  createDatabase,
  type DatabaseDriver,
  databaseUrl,
  postgresAdminUrl,
  type TestDatabase,
  testDatabase,
} from "./databases.js";
export { type Minio, minioBinary, type S3Endpoint, startMinio } from "./minio.js";
export {
  type PostgresCluster,
  type RestartableMinio,
  startPostgresCluster,
  startRestartableMinio,
} from "./outages.js";
export { freePort } from "./ports.js";
export { killAll, type ProcessExit, type SpawnedProcess, spawnNode, spawnProcess } from "./processes.js";
export {
  ADMIN_TOKEN,
  driversUnderTest,
  startApp,
  startServer,
  type TestApp,
  type TestServer,
  type TestServerOptions,
} from "./server.js";
export { SERVER_ENTRY, type ServerProcess, spawnServer } from "./server-process.js";
export { type StorageDriver, startS3, type TestS3 } from "./storage.js";
