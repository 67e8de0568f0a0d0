import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { S3Config } from "../config.js";
import {
  isMultipart,
  type MissingPiece,
  missingOf,
  type Piece,
  type RecordedPiece,
  type StoredAsset,
  type StoredComponent,
  unrecorded,
} from "../lib/pieces.js";
import { type BlobStore, type SignedRequest, StorageUnavailableError } from "./types.js";

/** How many storage requests one API request keeps in flight at most. */
const CONCURRENCY = 16;

async function eachLimited<T, R>(items: T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
  return results;
}

const statusOf = (err: unknown) => (err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined);
const isNotFound = (err: unknown) =>
  statusOf(err) === 404 || (err instanceof S3ServiceException && ["NotFound", "NoSuchKey"].includes(err.name));

/**
 * Presigned URLs straight to S3 (AWS, MinIO, any S3-compatible store): the bytes never pass through
 * the API server. Components up to the part size are one PUT bound to their length and SHA-256;
 * larger ones are multipart uploads, started at create and completed at finalize from the recorded
 * ETags. Object keys are `assets/<asset id>/<component index>`: unique per asset, whatever the paths.
 */
export class S3BlobStore implements BlobStore {
  readonly kind = "s3";
  private readonly client: S3Client;
  /** Signs for the host clients use (S3_PUBLIC_ENDPOINT), which may differ from the one we reach. */
  private readonly signer: S3Client;

  constructor(
    private readonly config: S3Config,
    private readonly log: { warn(obj: object, msg: string): void },
  ) {
    const common = {
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      // Checksums only where an operation needs one: presigned PUTs must not carry a checksum the
      // client cannot compute, and some S3-compatible servers mangle streamed bodies otherwise.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      maxAttempts: 3,
      ...(config.credentials && { credentials: config.credentials }),
    } as const;
    this.client = new S3Client({ ...common, ...(config.endpoint && { endpoint: config.endpoint }) });
    const publicEndpoint = config.publicEndpoint ?? config.endpoint;
    this.signer = new S3Client({ ...common, ...(publicEndpoint && { endpoint: publicEndpoint }) });
  }

  private key(assetId: string, index: number): string {
    return `assets/${assetId}/${index}`;
  }

  /** Storage errors that mean "unreachable or failing" become 503; anything else is a bug. */
  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      const status = statusOf(err);
      if (status === undefined || status >= 500 || status === 429) {
        throw new StorageUnavailableError(`Storage did not answer ${what}: ${(err as Error).message}`, {
          cause: err,
        });
      }
      throw err;
    }
  }

  async prepare(assetId: string, components: StoredComponent[], partSize: number): Promise<StoredComponent[]> {
    return eachLimited(
      components.map((component, index) => ({ component, index })),
      async ({ component, index }) => {
        if (!isMultipart(component, partSize)) return component;
        const started = await this.call("CreateMultipartUpload", () =>
          this.client.send(
            new CreateMultipartUploadCommand({ Bucket: this.config.bucket, Key: this.key(assetId, index) }),
          ),
        );
        if (!started.UploadId) throw new StorageUnavailableError("Storage started a multipart upload without an id");
        return { ...component, uploadId: started.UploadId };
      },
    );
  }

  private presign(command: PutObjectCommand | UploadPartCommand | GetObjectCommand, expiresAt: Date, signed: string[]) {
    const expiresIn = Math.max(1, Math.floor((expiresAt.getTime() - Date.now()) / 1000));
    // The presigner's types take one command type at a time; any of these three signs the same way.
    return getSignedUrl(this.signer, command as unknown as PutObjectCommand, {
      expiresIn,
      // Headers the client must send as they were signed, not moved into the query string.
      signableHeaders: new Set(signed),
      unhoistableHeaders: new Set(signed.filter((h) => h.startsWith("x-amz-"))),
    });
  }

  async signPut(asset: StoredAsset, index: number, piece: Piece, expiresAt: Date): Promise<SignedRequest> {
    const component = asset.components[index];
    if (!component) throw new Error(`no component ${index}`);
    const Bucket = this.config.bucket;
    const Key = this.key(asset.id, index);
    if (!isMultipart(component, asset.partSize)) {
      const checksum = Buffer.from(component.sha256, "hex").toString("base64");
      const url = await this.presign(
        new PutObjectCommand({ Bucket, Key, ContentLength: piece.size, ChecksumSHA256: checksum }),
        expiresAt,
        ["content-length", "x-amz-checksum-sha256"],
      );
      return { url, headers: { "content-length": String(piece.size), "x-amz-checksum-sha256": checksum } };
    }
    const url = await this.presign(
      new UploadPartCommand({
        Bucket,
        Key,
        UploadId: component.uploadId,
        PartNumber: piece.partNumber,
        ContentLength: piece.size,
      }),
      expiresAt,
      ["content-length"],
    );
    return { url, headers: { "content-length": String(piece.size) } };
  }

  signGet(asset: StoredAsset, index: number, expiresAt: Date): Promise<string> {
    return this.presign(
      new GetObjectCommand({ Bucket: this.config.bucket, Key: this.key(asset.id, index) }),
      expiresAt,
      [],
    );
  }

  acceptsReport(): boolean {
    return true;
  }

  private async size(assetId: string, index: number): Promise<number | undefined> {
    try {
      const head = await this.call("HeadObject", () =>
        this.client.send(new HeadObjectCommand({ Bucket: this.config.bucket, Key: this.key(assetId, index) })),
      );
      return head.ContentLength;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async discover(asset: StoredAsset, recorded: RecordedPiece[]): Promise<RecordedPiece[]> {
    const found = await eachLimited(unrecorded(asset, recorded), async ({ index, component, pieces }) => {
      if (!isMultipart(component, asset.partSize)) {
        const size = await this.size(asset.id, index);
        return size === component.size ? [{ path: component.path, partNumber: 1, etag: "", size }] : [];
      }
      const listed = await this.listParts(asset, index).catch((err) => {
        // Not every S3-compatible store lists parts; without it, only reports count.
        this.log.warn({ err }, "storage cannot list the parts of a multipart upload");
        return [];
      });
      const wanted = new Map(pieces.map((p) => [p.partNumber, p]));
      return listed.flatMap((part) => {
        const piece = wanted.get(part.partNumber);
        return piece && piece.size === part.size ? [{ path: component.path, ...part }] : [];
      });
    });
    return found.flat();
  }

  private async listParts(asset: StoredAsset, index: number) {
    const parts: { partNumber: number; etag: string; size: number }[] = [];
    let marker: string | undefined;
    do {
      const page = await this.client.send(
        new ListPartsCommand({
          Bucket: this.config.bucket,
          Key: this.key(asset.id, index),
          UploadId: asset.components[index]?.uploadId,
          PartNumberMarker: marker,
        }),
      );
      for (const part of page.Parts ?? []) {
        if (part.PartNumber && part.ETag && part.Size !== undefined) {
          parts.push({ partNumber: part.PartNumber, etag: part.ETag, size: part.Size });
        }
      }
      marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
    } while (marker);
    return parts;
  }

  async complete(asset: StoredAsset, recorded: RecordedPiece[]): Promise<MissingPiece[]> {
    // Single PUTs need no report: storage itself says whether they arrived (bound to their SHA-256).
    const multipartMissing = missingOf(asset, recorded).filter((m) => m.partNumbers);
    const singles = asset.components
      .map((component, index) => ({ component, index }))
      .filter(({ component }) => component.size > 0 && !isMultipart(component, asset.partSize));
    const singleSizes = await eachLimited(singles, ({ index }) => this.size(asset.id, index));
    const missing: MissingPiece[] = [
      ...singles
        .filter(({ component }, i) => singleSizes[i] !== component.size)
        .map(({ component }) => ({
          path: component.path,
        })),
      ...multipartMissing,
    ];
    if (missing.length > 0) return missing;

    const Bucket = this.config.bucket;
    const incomplete = await eachLimited(
      asset.components.map((component, index) => ({ component, index })),
      async ({ component, index }): Promise<MissingPiece | undefined> => {
        const Key = this.key(asset.id, index);
        if (component.size === 0) {
          await this.call("PutObject", () =>
            this.client.send(new PutObjectCommand({ Bucket, Key, Body: "", ContentLength: 0 })),
          );
          return undefined;
        }
        if (!isMultipart(component, asset.partSize)) return undefined;
        const parts = recorded
          .filter((piece) => piece.path === component.path)
          .sort((a, b) => a.partNumber - b.partNumber)
          .map((piece) => ({ PartNumber: piece.partNumber, ETag: piece.etag }));
        try {
          await this.call("CompleteMultipartUpload", () =>
            this.client.send(
              new CompleteMultipartUploadCommand({
                Bucket,
                Key,
                UploadId: component.uploadId,
                MultipartUpload: { Parts: parts },
              }),
            ),
          );
        } catch (err) {
          // Completed by an earlier finalize that failed before it was recorded: the size says.
          if (!(err instanceof S3ServiceException && err.name === "NoSuchUpload")) {
            if (err instanceof S3ServiceException && ["InvalidPart", "InvalidPartOrder"].includes(err.name)) {
              return { path: component.path, partNumbers: parts.map((p) => p.PartNumber) };
            }
            throw err;
          }
        }
        return (await this.size(asset.id, index)) === component.size ? undefined : { path: component.path };
      },
    );
    return incomplete.filter((m): m is MissingPiece => m !== undefined);
  }

  async remove(asset: StoredAsset): Promise<void> {
    const Bucket = this.config.bucket;
    const failures: unknown[] = [];
    // Each step on its own: a store that lacks one operation still gets the others.
    await eachLimited(
      asset.components.flatMap((c, index) => (c.uploadId ? [{ c, index }] : [])),
      async ({ c, index }) => {
        try {
          await this.client.send(
            new AbortMultipartUploadCommand({ Bucket, Key: this.key(asset.id, index), UploadId: c.uploadId }),
          );
        } catch (err) {
          if (!(err instanceof S3ServiceException && err.name === "NoSuchUpload")) failures.push(err);
        }
      },
    );
    const keys = asset.components.map((_, index) => ({ Key: this.key(asset.id, index) }));
    for (let i = 0; i < keys.length; i += 1000) {
      try {
        await this.client.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys.slice(i, i + 1000) } }));
      } catch (err) {
        failures.push(err);
      }
    }
    if (failures.length > 0) {
      throw new AggregateError(failures, `Storage refused ${failures.length} clean-up request(s) for ${asset.id}`);
    }
  }

  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.config.bucket }));
  }
}
