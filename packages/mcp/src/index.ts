export { createMcpServer, serveStdio } from "./server.js";
