import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { ConfigError, ENV_VARIABLES, loadConfig, publicUrlOf } from "./config.js";

test("docs/api.md's configuration table names every variable the server reads, and no other", () => {
  const doc = readFileSync(new URL("../../../docs/api.md", import.meta.url), "utf8");
  const section = doc.slice(doc.indexOf("## Server configuration"), doc.indexOf("## Error codes"));
  const documented = [...section.matchAll(/^\| ([^|]+) \|/gm)]
    .flatMap((row) => [...(row[1] ?? "").matchAll(/`([A-Z0-9_]+)`/g)].map((m) => m[1]))
    .sort();
  expect(documented).toEqual([...ENV_VARIABLES].sort());
});

describe("loadConfig", () => {
  test("defaults follow docs/api.md", () => {
    expect(loadConfig({})).toEqual({
      port: 8080,
      host: "127.0.0.1",
      databaseUrl: undefined,
      dataDir: "./.methodic",
      s3: undefined,
      publicUrl: "http://127.0.0.1:8080",
      publicUrlSet: false,
      adminToken: undefined,
      heartbeatTimeoutS: 300,
      reaperIntervalS: 15,
      uploadUrlTtlS: 3600,
      partSize: 67_108_864,
      planMaxPieces: 1000,
      pendingAssetTtlS: 604_800,
      http: {
        headersTimeoutMs: 60_000,
        keepAliveTimeoutMs: 5_000,
        idleTimeoutMs: 300_000,
        maxConnections: 1024,
        bodyMinRate: 1024,
        bodyRateWindowMs: 30_000,
      },
      logLevel: "info",
    });
  });

  test("reads every variable", () => {
    const config = loadConfig({
      PORT: "9000",
      HOST: "0.0.0.0",
      DATABASE_URL: "postgresql://u:p@db:5432/methodic",
      METHODIC_DATA_DIR: "/var/lib/methodic",
      S3_BUCKET: "checkpoints",
      S3_ENDPOINT: "http://minio:9000",
      S3_REGION: "eu-west-1",
      S3_FORCE_PATH_STYLE: "true",
      S3_PUBLIC_ENDPOINT: "http://localhost:9000",
      METHODIC_PUBLIC_URL: "https://chronicle.example.com/",
      METHODIC_ADMIN_TOKEN: "0123456789abcdef0123",
      METHODIC_HEARTBEAT_TIMEOUT_S: "60",
      METHODIC_REAPER_INTERVAL_S: "5",
      METHODIC_UPLOAD_URL_TTL_S: "600",
      METHODIC_PART_SIZE: String(8 * 1024 * 1024),
      METHODIC_PLAN_MAX_PIECES: "250",
      METHODIC_PENDING_ASSET_TTL_S: "3600",
      METHODIC_MAX_CONNECTIONS: "200",
      METHODIC_KEEP_ALIVE_TIMEOUT_S: "75",
      METHODIC_BODY_MIN_RATE: "100",
      LOG_LEVEL: "warn",
    });
    expect(config).toEqual({
      port: 9000,
      host: "0.0.0.0",
      databaseUrl: "postgresql://u:p@db:5432/methodic",
      dataDir: "/var/lib/methodic",
      s3: {
        bucket: "checkpoints",
        endpoint: "http://minio:9000",
        region: "eu-west-1",
        forcePathStyle: true,
        publicEndpoint: "http://localhost:9000",
      },
      publicUrl: "https://chronicle.example.com",
      publicUrlSet: true,
      adminToken: "0123456789abcdef0123",
      heartbeatTimeoutS: 60,
      reaperIntervalS: 5,
      uploadUrlTtlS: 600,
      partSize: 8 * 1024 * 1024,
      planMaxPieces: 250,
      pendingAssetTtlS: 3600,
      http: {
        headersTimeoutMs: 60_000,
        keepAliveTimeoutMs: 75_000,
        idleTimeoutMs: 300_000,
        maxConnections: 200,
        bodyMinRate: 100,
        bodyRateWindowMs: 30_000,
      },
      logLevel: "warn",
    });
  });

  test("the public URL of a server on every interface is the loopback address", () => {
    expect(loadConfig({ HOST: "0.0.0.0", PORT: "81" }).publicUrl).toBe("http://127.0.0.1:81");
    expect(loadConfig({ HOST: "::", PORT: "81" }).publicUrl).toBe("http://[::1]:81");
    expect(loadConfig({ HOST: "example.internal" }).publicUrl).toBe("http://example.internal:8080");
  });

  test("a server on a port the system picks (PORT=0) is reached on that port", () => {
    expect(publicUrlOf(loadConfig({ PORT: "0" }), 43_210)).toBe("http://127.0.0.1:43210");
    expect(publicUrlOf(loadConfig({ PORT: "0", METHODIC_PUBLIC_URL: "https://c.example" }), 43_210)).toBe(
      "https://c.example",
    );
    expect(publicUrlOf(loadConfig({ PORT: "81" }), 43_210)).toBe("http://127.0.0.1:81");
  });

  test("empty variables count as unset", () => {
    expect(loadConfig({ PORT: "", DATABASE_URL: " ", S3_BUCKET: "" })).toMatchObject({
      port: 8080,
      databaseUrl: undefined,
      s3: undefined,
    });
  });

  test.for([
    ["PORT", "eighty"],
    ["PORT", "70000"],
    ["PORT", "80.5"],
    ["DATABASE_URL", "mysql://localhost/db"],
    ["DATABASE_URL", "not a url"],
    ["S3_FORCE_PATH_STYLE", "yes"],
    ["S3_ENDPOINT", "minio:9000"],
    ["METHODIC_PUBLIC_URL", "ftp://x"],
    ["METHODIC_ADMIN_TOKEN", "short"],
    ["METHODIC_HEARTBEAT_TIMEOUT_S", "0"],
    ["METHODIC_UPLOAD_URL_TTL_S", "999999999"],
    ["METHODIC_PART_SIZE", "1048576"],
    ["METHODIC_PLAN_MAX_PIECES", "0"],
    ["METHODIC_PLAN_MAX_PIECES", "10001"],
    ["METHODIC_PENDING_ASSET_TTL_S", "-1"],
    ["METHODIC_MAX_CONNECTIONS", "0"],
    ["METHODIC_KEEP_ALIVE_TIMEOUT_S", "0.5"],
    ["METHODIC_BODY_MIN_RATE", "fast"],
    ["LOG_LEVEL", "loud"],
  ] as const)("%s=%s is refused with one line naming it", ([name, value]) => {
    const env = { [name]: value, ...(name.startsWith("S3_") && { S3_BUCKET: "bucket" }) };
    let error: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(
      new RegExp(`^Invalid configuration: ${name} .*\\(got "${value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"\\)$`),
    );
    expect(message).not.toContain("\n");
  });

  test("S3 settings without a bucket are refused", () => {
    expect(() => loadConfig({ S3_ENDPOINT: "http://minio:9000" })).toThrow(
      "Invalid configuration: S3_ENDPOINT set without S3_BUCKET",
    );
  });

  test("a reaper interval longer than the heartbeat timeout is refused", () => {
    expect(() => loadConfig({ METHODIC_HEARTBEAT_TIMEOUT_S: "10", METHODIC_REAPER_INTERVAL_S: "20" })).toThrow(
      /METHODIC_REAPER_INTERVAL_S must not exceed METHODIC_HEARTBEAT_TIMEOUT_S/,
    );
  });
});
