import { createHash } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { S3Config } from "../config.js";
import { attachment } from "../lib/content-disposition.js";
import { eachLimited } from "../lib/each-limited.js";
import {
  isMultipart,
  type MissingPiece,
  missingOf,
  type PendingPieces,
  type Piece,
  type RecordedPiece,
  type StoredAsset,
  type StoredComponent,
} from "../lib/pieces.js";
import { type BlobStore, type Completion, type SignedRequest, StorageUnavailableError } from "./types.js";

const statusOf = (err: unknown) => (err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined);
const isNotFound = (err: unknown) =>
  statusOf(err) === 404 || (err instanceof S3ServiceException && ["NotFound", "NoSuchKey"].includes(err.name));
const named = (err: unknown, ...names: string[]) => err instanceof S3ServiceException && names.includes(err.name);

/** S3 writes SHA-256 checksums in base64; the API, in hex. */
const base64Of = (hex: string) => Buffer.from(hex, "hex").toString("base64");
const EMPTY_SHA256 = createHash("sha256").digest("hex");

/** What S3 reports for a multipart object: the SHA-256 of its parts' digests, and their count. */
function compositeOf(partSha256: string[]): string {
  const digests = Buffer.concat(partSha256.map((hex) => Buffer.from(hex, "hex")));
  return `${createHash("sha256").update(digests).digest("base64")}-${partSha256.length}`;
}

/**
 * Presigned URLs straight to S3 (AWS, MinIO, any S3-compatible store): the bytes never pass through
 * the API server. Every URL binds the exact length and the SHA-256 of the bytes it takes: a component
 * up to the part size is one PUT bound to the file's SHA-256; a larger one is a multipart upload with
 * the SHA-256 checksum algorithm, each part's URL bound to that part's SHA-256. So storage itself
 * refuses wrong bytes, and at finalize the stored object's checksum is compared with the manifest.
 * Object keys are `assets/<asset id>/<component index>`: unique per asset, whatever the paths.
 */
export class S3BlobStore implements BlobStore {
  readonly kind = "s3";
  readonly requiresPartChecksums = true;
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
      // Checksums only where we ask for them: the SDK would otherwise add CRC32 checksums of its own
      // to presigned requests, which the client cannot compute.
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
    const started: StoredComponent[] = [...components];
    try {
      await eachLimited(
        components.map((component, index) => ({ component, index })),
        async ({ component, index }) => {
          if (!isMultipart(component, partSize)) return;
          const upload = await this.call("CreateMultipartUpload", () =>
            this.client.send(
              new CreateMultipartUploadCommand({
                Bucket: this.config.bucket,
                Key: this.key(assetId, index),
                ChecksumAlgorithm: "SHA256",
                ChecksumType: "COMPOSITE",
              }),
            ),
          );
          if (!upload.UploadId) throw new StorageUnavailableError("Storage started a multipart upload without an id");
          started[index] = { ...component, uploadId: upload.UploadId };
        },
      );
    } catch (err) {
      // The uploads started before the failure would be known to nobody.
      await this.remove({ id: assetId, partSize, components: started }).catch(() => {});
      throw err;
    }
    return started;
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
    const multipart = isMultipart(component, asset.partSize);
    const sha256 = multipart ? component.partSha256?.[piece.partNumber - 1] : component.sha256;
    if (!sha256) throw new Error(`component ${index} has no SHA-256 for part ${piece.partNumber}`);
    const headers = { "content-length": String(piece.size), "x-amz-checksum-sha256": base64Of(sha256) };
    const target = { Bucket: this.config.bucket, Key: this.key(asset.id, index), ContentLength: piece.size };
    const command = multipart
      ? new UploadPartCommand({
          ...target,
          UploadId: component.uploadId,
          PartNumber: piece.partNumber,
          ChecksumSHA256: headers["x-amz-checksum-sha256"],
        })
      : new PutObjectCommand({ ...target, ChecksumSHA256: headers["x-amz-checksum-sha256"] });
    return { url: await this.presign(command, expiresAt, Object.keys(headers)), headers };
  }

  signGet(asset: StoredAsset, index: number, expiresAt: Date): Promise<string> {
    const component = asset.components[index];
    if (!component) throw new Error(`no component ${index}`);
    // Storage answers the GET with this header: a download is a file to save, never a page to render.
    const disposition = attachment(component.path);
    return this.presign(
      new GetObjectCommand({
        Bucket: this.config.bucket,
        Key: this.key(asset.id, index),
        ResponseContentDisposition: disposition,
      }),
      expiresAt,
      [],
    );
  }

  acceptsReport(): boolean {
    // A wrong ETag fails at finalize, where CompleteMultipartUpload names the parts it cannot match.
    return true;
  }

  /** An object's size and the SHA-256 checksum storage keeps for it; undefined when there is none. */
  private async head(assetId: string, index: number): Promise<{ size: number; checksum: string } | undefined> {
    try {
      const head = await this.call("HeadObject", () =>
        this.client.send(
          new HeadObjectCommand({ Bucket: this.config.bucket, Key: this.key(assetId, index), ChecksumMode: "ENABLED" }),
        ),
      );
      return { size: head.ContentLength ?? -1, checksum: head.ChecksumSHA256 ?? "" };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** What the component's object must report once complete: its size, and its (composite) checksum. */
  private expected(component: StoredComponent, partSize: number): { size: number; checksum: string } {
    const checksum =
      isMultipart(component, partSize) && component.partSha256
        ? compositeOf(component.partSha256)
        : base64Of(component.size === 0 ? EMPTY_SHA256 : component.sha256);
    return { size: component.size, checksum };
  }

  /** Pieces storage holds that the records lack (a client that crashed before it reported them). */
  async discover(asset: StoredAsset, unrecorded: PendingPieces[]): Promise<RecordedPiece[]> {
    const found = await eachLimited(unrecorded, async ({ index, component, pieces }) => {
      if (!isMultipart(component, asset.partSize)) {
        const head = await this.head(asset.id, index);
        const expected = this.expected(component, asset.partSize);
        const whole = head?.size === expected.size && head.checksum === expected.checksum;
        return whole ? [{ path: component.path, partNumber: 1, etag: "", size: component.size }] : [];
      }
      const wanted = new Map(pieces.map((p) => [p.partNumber, p]));
      // Storage checked each listed part against the checksum its URL bound; listed with the right
      // one, it is the right bytes.
      return (await this.listParts(asset, index)).flatMap((part) => {
        const piece = wanted.get(part.partNumber);
        const sha256 = component.partSha256?.[part.partNumber - 1];
        const right = piece && piece.size === part.size && sha256 !== undefined && part.checksum === base64Of(sha256);
        return right ? [{ path: component.path, partNumber: part.partNumber, etag: part.etag, size: part.size }] : [];
      });
    });
    return found.flat();
  }

  private async listParts(asset: StoredAsset, index: number) {
    const parts: { partNumber: number; etag: string; size: number; checksum: string | undefined }[] = [];
    let marker: string | undefined;
    do {
      const page = await this.call("ListParts", () =>
        this.client.send(
          new ListPartsCommand({
            Bucket: this.config.bucket,
            Key: this.key(asset.id, index),
            UploadId: asset.components[index]?.uploadId,
            PartNumberMarker: marker,
          }),
        ),
      );
      for (const part of page.Parts ?? []) {
        if (part.PartNumber && part.ETag && part.Size !== undefined) {
          parts.push({ partNumber: part.PartNumber, etag: part.ETag, size: part.Size, checksum: part.ChecksumSHA256 });
        }
      }
      marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
    } while (marker);
    return parts;
  }

  async check(asset: StoredAsset): Promise<Completion> {
    // Nothing to read beforehand: storage did the checking as the bytes arrived, and completing
    // multipart uploads belongs under the lock, so that an abort cannot slip between and leak an object.
    return {
      complete: async (recorded) => ({ missing: await this.complete(asset, recorded), mismatched: [], forget: [] }),
      release: async () => {},
    };
  }

  /**
   * Checks the bytes against the records, completes multipart uploads and writes empty components.
   * Answers what storage does not hold, having completed nothing if anything is missing.
   */
  async complete(asset: StoredAsset, recorded: RecordedPiece[]): Promise<MissingPiece[]> {
    // Single PUTs need no report: storage itself says whether they arrived.
    const multipartMissing = missingOf(asset, recorded).filter((m) => m.partNumbers);
    const singles = asset.components
      .map((component, index) => ({ component, index }))
      .filter(({ component }) => component.size > 0 && !isMultipart(component, asset.partSize));
    const singlesRight = await eachLimited(singles, ({ index }) => this.verify(asset, index));
    const missing: MissingPiece[] = [
      ...singles.filter((_, i) => !singlesRight[i]).map(({ component }) => ({ path: component.path })),
      ...multipartMissing,
    ];
    if (missing.length > 0) return missing;

    const Bucket = this.config.bucket;
    const rest = asset.components
      .map((component, index) => ({ component, index }))
      .filter(({ component }) => component.size === 0 || isMultipart(component, asset.partSize));
    const incomplete = await eachLimited(rest, async ({ component, index }): Promise<MissingPiece | undefined> => {
      const Key = this.key(asset.id, index);
      if (component.size === 0) {
        await this.call("PutObject", () =>
          this.client.send(
            new PutObjectCommand({ Bucket, Key, Body: "", ContentLength: 0, ChecksumSHA256: base64Of(EMPTY_SHA256) }),
          ),
        );
      } else if (isMultipart(component, asset.partSize)) {
        const parts = recorded
          .filter((piece) => piece.path === component.path)
          .sort((a, b) => a.partNumber - b.partNumber)
          .map((piece) => ({
            PartNumber: piece.partNumber,
            ETag: piece.etag,
            ChecksumSHA256: base64Of(component.partSha256?.[piece.partNumber - 1] ?? ""),
          }));
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
          // A report storage cannot match (a wrong ETag) means those parts must be sent again.
          if (named(err, "InvalidPart", "InvalidPartOrder")) {
            return { path: component.path, partNumbers: parts.map((p) => p.PartNumber) };
          }
          // Completed by an earlier finalize that failed before it was recorded: the checksum says.
          if (!named(err, "NoSuchUpload")) throw err;
        }
      }
      return (await this.verify(asset, index)) ? undefined : { path: component.path };
    });
    return incomplete.filter((m): m is MissingPiece => m !== undefined);
  }

  /** Whether the stored object is what the manifest says, by its size and storage's own checksum. */
  private async verify(asset: StoredAsset, index: number): Promise<boolean> {
    const component = asset.components[index]!;
    const [head, expected] = [await this.head(asset.id, index), this.expected(component, asset.partSize)];
    if (head?.size === expected.size && head.checksum === expected.checksum) return true;
    if (head && head.size === expected.size) {
      this.log.warn(
        { asset: asset.id, component: component.path, stored: head, expected },
        "storage holds an object that is not what the manifest says",
      );
    }
    return false;
  }

  async remove(asset: StoredAsset): Promise<void> {
    const Bucket = this.config.bucket;
    const failures: unknown[] = [];
    const keys = asset.components.map((_, index) => this.key(asset.id, index));
    // Every multipart upload of the asset's keys, the recorded ones and any a crash left unrecorded.
    await eachLimited(keys, async (Key) => {
      try {
        const listed = await this.client.send(new ListMultipartUploadsCommand({ Bucket, Prefix: Key }));
        const ids = new Set((listed.Uploads ?? []).filter((u) => u.Key === Key).map((u) => u.UploadId));
        const recorded = asset.components[keys.indexOf(Key)]?.uploadId;
        if (recorded) ids.add(recorded);
        for (const UploadId of ids) {
          await this.client
            .send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }))
            .catch((err) => (named(err, "NoSuchUpload") ? undefined : Promise.reject(err)));
        }
      } catch (err) {
        failures.push(err);
      }
    });
    for (let i = 0; i < keys.length; i += 1000) {
      try {
        const batch = keys.slice(i, i + 1000).map((Key) => ({ Key }));
        await this.client.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: batch, Quiet: true } }));
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
