import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { routes } from "@methodic/contract";
import { afterEach, expect, test } from "vitest";
import { createDatabase, killAll, spawnProcess, spawnServer, type TestDatabase } from "../src/testing/index.js";
import { driver } from "./support/app.js";

/**
 * Schemathesis (installed by .ci/python from requirements-dev.txt; vitest.config.ts leaves this file
 * out without it) against the server in a child process of its own, on each database: every route of
 * /openapi.json, a fixed seed and a bounded number of examples per operation.
 */
const SCHEMATHESIS = fileURLToPath(new URL("../../../.venv/bin/schemathesis", import.meta.url));

const TOKEN = "schemathesis-admin-token-0123456789";
const SEED = 20_261_202;
const EXAMPLES_PER_OPERATION = 20;
/** What the answers are held to: api.md's error model and the OpenAPI document's every promise. */
const CHECKS = [
  "not_a_server_error",
  "status_code_conformance",
  "content_type_conformance",
  "response_schema_conformance",
  "response_headers_conformance",
  "negative_data_rejection",
];

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await killAll();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Report {
  exit_code: number;
  operations: { total: number; tested: number; errored: number };
  test_cases: { generated: number; with_failures: number; errored: number };
  failures: unknown[];
  errors: unknown[];
}

/**
 * Real records for the generated requests to find, besides the ids they make up: an experiment with
 * a running run, a pending asset of files, an inline asset and a token. Schemathesis draws each path
 * parameter from these half of the time.
 */
async function seed(url: string): Promise<Record<string, (string | number)[]>> {
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined && { "content-type": "application/json" }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    expect(res.status, `${method} ${path}`).toBeLessThan(300);
    return (await res.json()) as any;
  };
  await call("POST", "/v1/experiments", { id: "st", config: { lr: 0.1 } });
  const run = "/v1/experiments/st/variations/v/runs/0";
  await call("POST", `${run}/start`);
  const sha256 = createHash("sha256").update("x").digest("hex");
  const files = await call("POST", `${run}/assets`, {
    asset_type: "checkpoint",
    components: [{ path: "model/weights.bin", size: 1, sha256 }],
  });
  const inline = await call("POST", `${run}/assets`, { asset_type: "trainer_config", content: { epochs: 3 } });
  const token = await call("POST", "/v1/tokens", { name: "schemathesis", scope: "read" });
  return {
    experiments: ["st"],
    variations: ["v"],
    runs: ["0"],
    ids: [files.asset.id, inline.asset.id, token.id],
  };
}

function config(dictionaries: Record<string, (string | number)[]>): string {
  const toml = (value: unknown) => JSON.stringify(value);
  return [
    // A request refused for its size is rejected too: 413 joins the statuses that reject invalid data.
    "[checks.negative_data_rejection]",
    `expected-statuses = ${toml(["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"])}`,
    ...Object.entries(dictionaries).flatMap(([name, values]) => [`[dictionaries.${name}]`, `values = ${toml(values)}`]),
    "[parameters]",
    ...Object.entries({ exp: "experiments", var: "variations", run: "runs", id: "ids", asset_id: "ids" }).map(
      ([param, dictionary]) => `"path.${param}" = { dictionary = ${toml(dictionary)}, probability = 0.5 }`,
    ),
    "",
  ].join("\n");
}

test("Schemathesis on every route: no server error, and every answer as the OpenAPI document says", async () => {
  const dir = await mkdtemp(join(process.env.TEST_TMP_ROOT ?? "/tmp", "schemathesis-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  let database: TestDatabase | undefined;
  if (driver === "postgres") {
    database = await createDatabase();
    cleanups.push(() => database!.drop());
  }
  const server = spawnServer({
    METHODIC_DATA_DIR: join(dir, "data"),
    METHODIC_ADMIN_TOKEN: TOKEN,
    ...(database && { DATABASE_URL: database.url }),
  });
  const url = await server.url;
  const dictionaries = await seed(url);

  const configPath = join(dir, "schemathesis.toml");
  const reportPath = join(dir, "report.json");
  await writeFile(configPath, config(dictionaries));
  const before = requestsIn(server.output());
  const run = spawnProcess(
    SCHEMATHESIS,
    [
      "--config-file",
      configPath,
      "run",
      `${url}/openapi.json`,
      "--header",
      `Authorization: Bearer ${TOKEN}`,
      "--checks",
      CHECKS.join(","),
      "--max-examples",
      String(EXAMPLES_PER_OPERATION),
      "--seed",
      String(SEED),
      "--workers",
      "1",
      "--generation-database",
      "none",
      "--no-color",
      "--report",
      "json",
      "--report-json-path",
      reportPath,
    ],
    { cwd: dir, env: { PATH: process.env.PATH, HOME: process.env.HOME } },
  );
  const exit = await run.exit;
  const report = JSON.parse(await readFile(reportPath, "utf8")) as Report;
  const requests = requestsIn(server.output()) - before;
  process.stdout.write(
    `schemathesis on ${driver}: ${report.operations.tested} operations, ${report.test_cases.generated} test cases, ` +
      `${requests} requests, ${report.failures.length} failures, ${report.errors.length} errors\n`,
  );

  expect(report.failures, run.output().slice(-20_000)).toEqual([]);
  expect(report.errors, run.output().slice(-20_000)).toEqual([]);
  expect(exit.code).toBe(0);
  expect(report.operations.tested).toBe(Object.keys(routes).length);
  expect(requests).toBeGreaterThan(Object.keys(routes).length * EXAMPLES_PER_OPERATION);
}, 900_000);

/** Requests the server answered, by its log lines. */
function requestsIn(log: string): number {
  return log.match(/"msg":"request completed"/g)?.length ?? 0;
}
