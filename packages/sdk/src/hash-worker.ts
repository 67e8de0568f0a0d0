import { parentPort, workerData } from "node:worker_threads";
import { hashFile } from "./hashing.js";

// One file per worker: hash it, post the hashes, exit.
const { path, size, partSize } = workerData as { path: string; size: number; partSize: number };
parentPort?.postMessage(await hashFile(path, size, partSize));
