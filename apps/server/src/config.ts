import { MAX_PARTS } from "@methodic/contract";
import { z } from "zod";

const MiB = 1024 * 1024;

const int = (min: number, max: number) =>
  z.coerce
    .number({ error: "must be a whole number" })
    .int("must be a whole number")
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`);

const bool = z.enum(["true", "false", "1", "0"], "must be true or false").transform((v) => v === "true" || v === "1");

const httpUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });

/** The server's environment, as docs/api.md's configuration table has it. */
const Env = z.object({
  PORT: int(0, 65_535).default(8080),
  HOST: z.string().min(1).default("127.0.0.1"),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: "must be a postgres:// or postgresql:// URL" }).optional(),
  METHODIC_DATA_DIR: z.string().min(1).default("./.methodic"),
  S3_BUCKET: z.string().min(3, "must be a bucket name").optional(),
  S3_ENDPOINT: httpUrl.optional(),
  S3_REGION: z.string().min(1).default("us-east-1"),
  S3_FORCE_PATH_STYLE: bool.default(false),
  S3_PUBLIC_ENDPOINT: httpUrl.optional(),
  METHODIC_PUBLIC_URL: httpUrl.optional(),
  METHODIC_ADMIN_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  METHODIC_HEARTBEAT_TIMEOUT_S: int(1, 30 * 86_400).default(300),
  METHODIC_REAPER_INTERVAL_S: int(1, 86_400).default(15),
  // S3 presigned URLs live at most 7 days.
  METHODIC_UPLOAD_URL_TTL_S: int(60, 7 * 86_400).default(3600),
  // S3 multipart parts are 5 MiB to 5 GiB.
  METHODIC_PART_SIZE: int(5 * MiB, 5 * 1024 * MiB).default(64 * MiB),
  // Pieces signed per upload plan; up to what one report (/parts) takes, so a page is reported at once.
  METHODIC_PLAN_MAX_PIECES: int(1, MAX_PARTS).default(1000),
  METHODIC_PENDING_ASSET_TTL_S: int(60, 365 * 86_400).default(604_800),
  METHODIC_MAX_CONNECTIONS: int(1, 1_000_000).default(1024),
  // Behind a load balancer, longer than its idle timeout, so that it never reuses a connection we close.
  METHODIC_KEEP_ALIVE_TIMEOUT_S: int(1, 3600).default(5),
  METHODIC_BODY_MIN_RATE: int(1, 1024 * MiB).default(1024),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  // Read here only so that a configuration given whole (not from process.env) carries them; the AWS
  // SDK's own chain (profiles, instance roles, ...) applies when they are unset.
  AWS_ACCESS_KEY_ID: z.string().optional(),
  AWS_SECRET_ACCESS_KEY: z.string().optional(),
  AWS_SESSION_TOKEN: z.string().optional(),
});

/** Every variable the server reads. */
export const ENV_VARIABLES = Object.keys(Env.shape);

export interface S3Config {
  bucket: string;
  endpoint: string | undefined;
  region: string;
  forcePathStyle: boolean;
  publicEndpoint: string | undefined;
  /** Static credentials from the environment; undefined leaves them to the AWS SDK's chain. */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
}

/**
 * How the server guards its connections against clients that are slow or gone (docs/api.md, Limits).
 * Those users tune come from the environment; the others are fixed here (tests shorten them).
 */
export interface HttpLimits {
  /** Time a client has to send a request's headers, from its connection or its previous request. */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long. */
  keepAliveTimeoutMs: number;
  /** A connection on which nothing moves for this long while a request is in progress is closed. */
  idleTimeoutMs: number;
  /** Connections beyond this many at once are closed as they arrive. */
  maxConnections: number;
  /** A request body must arrive at this many bytes per second or more, averaged over each window. */
  bodyMinRate: number;
  bodyRateWindowMs: number;
}

export interface Config {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  s3: S3Config | undefined;
  /** How clients reach this server; see `publicUrlOf` for a server that listens on a port it was given. */
  publicUrl: string;
  /** Whether METHODIC_PUBLIC_URL set it, rather than HOST and PORT. */
  publicUrlSet: boolean;
  adminToken: string | undefined;
  heartbeatTimeoutS: number;
  reaperIntervalS: number;
  uploadUrlTtlS: number;
  partSize: number;
  /** Pieces an upload plan signs at most; more are handed out in later pages. */
  planMaxPieces: number;
  pendingAssetTtlS: number;
  http: HttpLimits;
  logLevel: z.infer<typeof Env>["LOG_LEVEL"];
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** The URL clients reach us at when METHODIC_PUBLIC_URL is unset: never taken from a request. */
function defaultPublicUrl(host: string, port: number): string {
  const reachable = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `http://${reachable.includes(":") ? `[${reachable}]` : reachable}:${port}`;
}

/** The public URL once listening: with PORT=0 and no METHODIC_PUBLIC_URL, the port the system gave. */
export function publicUrlOf(config: Config, listeningPort: number | undefined): string {
  if (config.publicUrlSet || config.port !== 0 || listeningPort === undefined) return config.publicUrl;
  return defaultPublicUrl(config.host, listeningPort);
}

/**
 * Parses the configuration once. An empty variable counts as unset (as docker compose `.env` files
 * leave them); a bad one throws a ConfigError whose message is one line naming the variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(
    Object.keys(Env.shape).flatMap((key) => {
      const value = env[key]?.trim();
      return value ? [[key, value]] : [];
    }),
  );
  const parsed = Env.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0]);
      return `${key} ${issue.message} (got ${JSON.stringify(present[key])})`;
    });
    throw new ConfigError(`Invalid configuration: ${problems.join("; ")}`);
  }
  const e = parsed.data;
  const s3Only = ["S3_ENDPOINT", "S3_PUBLIC_ENDPOINT"].filter((key) => key in present);
  if (!e.S3_BUCKET && s3Only.length > 0) {
    throw new ConfigError(`Invalid configuration: ${s3Only.join(", ")} set without S3_BUCKET`);
  }
  if (e.METHODIC_REAPER_INTERVAL_S > e.METHODIC_HEARTBEAT_TIMEOUT_S) {
    // A run must be marked lost no later than twice the timeout after its last heartbeat.
    throw new ConfigError(
      `Invalid configuration: METHODIC_REAPER_INTERVAL_S must not exceed METHODIC_HEARTBEAT_TIMEOUT_S (got ${e.METHODIC_REAPER_INTERVAL_S} > ${e.METHODIC_HEARTBEAT_TIMEOUT_S})`,
    );
  }
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.METHODIC_DATA_DIR,
    s3: e.S3_BUCKET
      ? {
          bucket: e.S3_BUCKET,
          endpoint: e.S3_ENDPOINT,
          region: e.S3_REGION,
          forcePathStyle: e.S3_FORCE_PATH_STYLE,
          publicEndpoint: e.S3_PUBLIC_ENDPOINT,
          credentials:
            e.AWS_ACCESS_KEY_ID && e.AWS_SECRET_ACCESS_KEY
              ? {
                  accessKeyId: e.AWS_ACCESS_KEY_ID,
                  secretAccessKey: e.AWS_SECRET_ACCESS_KEY,
                  ...(e.AWS_SESSION_TOKEN && { sessionToken: e.AWS_SESSION_TOKEN }),
                }
              : undefined,
        }
      : undefined,
    publicUrl: (e.METHODIC_PUBLIC_URL ?? defaultPublicUrl(e.HOST, e.PORT)).replace(/\/+$/, ""),
    publicUrlSet: e.METHODIC_PUBLIC_URL !== undefined,
    adminToken: e.METHODIC_ADMIN_TOKEN,
    heartbeatTimeoutS: e.METHODIC_HEARTBEAT_TIMEOUT_S,
    reaperIntervalS: e.METHODIC_REAPER_INTERVAL_S,
    uploadUrlTtlS: e.METHODIC_UPLOAD_URL_TTL_S,
    partSize: e.METHODIC_PART_SIZE,
    planMaxPieces: e.METHODIC_PLAN_MAX_PIECES,
    pendingAssetTtlS: e.METHODIC_PENDING_ASSET_TTL_S,
    http: {
      headersTimeoutMs: 60_000,
      keepAliveTimeoutMs: e.METHODIC_KEEP_ALIVE_TIMEOUT_S * 1000,
      // Long enough for S3 to complete a multipart upload of many parts, which can take minutes.
      idleTimeoutMs: 300_000,
      maxConnections: e.METHODIC_MAX_CONNECTIONS,
      bodyMinRate: e.METHODIC_BODY_MIN_RATE,
      bodyRateWindowMs: 30_000,
    },
    logLevel: e.LOG_LEVEL,
  };
}
