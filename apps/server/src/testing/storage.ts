import { randomBytes } from "node:crypto";
import { createServer, request, type Server } from "node:http";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { type S3Endpoint, s3UnderTest, startMinio } from "./minio.js";

export type StorageDriver = "local" | "s3";

/** A bucket of a test server's own on the run's S3 server, and the server's variables for it. */
export interface TestS3 extends S3Endpoint {
  bucket: string;
  /** Where presigned URLs point: a proxy in front of S3 that counts what clients send. */
  publicEndpoint: string;
  env: Record<string, string>;
  /** A client of the bucket's S3 server, for tests that look at storage directly. */
  client: S3Client;
  /** File bytes PUT through presigned URLs (by Content-Length, whether or not the request completed). */
  received: { blobBytes: number };
  /** Every request that went through the proxy, in order. */
  requests: { method: string; url: string }[];
  close(): Promise<void>;
}

let processMinio: Promise<S3Endpoint> | undefined;

/**
 * The run's S3 server: TEST_S3_ENDPOINT, as a vitest run's global setup sets it; else (a benchmark, a
 * script) a MinIO started for this process and stopped when it exits.
 */
function s3Server(): Promise<S3Endpoint> {
  const configured = s3UnderTest();
  if (configured) return Promise.resolve(configured);
  processMinio ??= startMinio().then((minio) => {
    process.once("exit", () => minio.process.child.kill("SIGKILL"));
    return minio;
  });
  return processMinio;
}

export function s3ClientFor(target: S3Endpoint): S3Client {
  return new S3Client({
    endpoint: target.endpoint,
    region: target.region,
    forcePathStyle: true,
    credentials: { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/**
 * A fresh bucket on the run's S3 server (MinIO, which checks signatures and checksums like S3), or on
 * the one given, for one test server. Presigned URLs go through a proxy that forwards every request
 * as it is (its Host header included, which the signatures cover) and counts the bytes PUT, so that a
 * test can tell how much a client sent; the server itself talks to S3 directly.
 */
export async function startS3(on?: S3Endpoint): Promise<TestS3> {
  const target = on ?? (await s3Server());
  const client = s3ClientFor(target);
  const bucket = `methodic-test-${randomBytes(6).toString("hex")}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const received = { blobBytes: 0 };
  const requests: TestS3["requests"] = [];
  const proxy = await countingProxy(new URL(target.endpoint), (method, url, length) => {
    requests.push({ method, url });
    if (method === "PUT") received.blobBytes += length;
  });
  const address = proxy.address();
  if (typeof address !== "object" || address === null) throw new Error("the S3 proxy is not on TCP");
  const publicEndpoint = `http://127.0.0.1:${address.port}`;
  return {
    ...target,
    bucket,
    publicEndpoint,
    client,
    received,
    requests,
    env: {
      S3_BUCKET: bucket,
      S3_ENDPOINT: target.endpoint,
      S3_PUBLIC_ENDPOINT: publicEndpoint,
      S3_REGION: target.region,
      S3_FORCE_PATH_STYLE: "true",
      AWS_ACCESS_KEY_ID: target.accessKeyId,
      AWS_SECRET_ACCESS_KEY: target.secretAccessKey,
    },
    close: async () => {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
      client.destroy();
    },
  };
}

/** An HTTP proxy to `target` that tells `count` the method, URL and declared length of every request. */
async function countingProxy(
  target: URL,
  count: (method: string, url: string, length: number) => void,
): Promise<Server> {
  const proxy = createServer((req, res) => {
    count(req.method ?? "", req.url ?? "", Number(req.headers["content-length"] ?? 0));
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.on("error", () => upstream.destroy());
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  return proxy;
}
