import Database from "better-sqlite3";
import type { Chronicle } from "./chronicle.js";
import type { DirectoryUpload, TrackedKey, TrackedUpload, UploadTrackerLike } from "./upload.js";

export interface UploadTrackerOptions {
  /** The SQLite file; created if missing. Keep it beside the trainer's outputs, not in a temp dir. */
  dbPath: string;
}

interface UploadRow {
  asset_id: string;
  base_url: string;
  directory: string;
  experiment_id: string;
  variation: string;
  run: number;
  asset: string;
  idempotency_key: string;
  files: string;
  done: number;
}

/**
 * Remembers uploads on local disk, so that a process that crashed mid-upload (or a new one) resumes
 * the same asset: unchanged files are not hashed again, and only pieces the server lacks are sent.
 */
export class UploadTracker implements UploadTrackerLike {
  private readonly db: Database.Database;

  constructor(options: UploadTrackerOptions) {
    this.db = new Database(options.dbPath);
    // WAL keeps each write durable and cheap, and lets several trainers on one host share the file.
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(`
      create table if not exists uploads (
        asset_id text primary key,
        base_url text not null,
        directory text not null,
        experiment_id text not null,
        variation text not null,
        run integer not null,
        asset text not null,
        idempotency_key text not null,
        files text not null,
        done integer not null default 0,
        updated_at integer not null
      );
      create index if not exists uploads_key on uploads (base_url, directory, experiment_id, variation, run, updated_at);
      create table if not exists pieces (
        asset_id text not null references uploads (asset_id) on delete cascade,
        path text not null,
        part_number integer not null,
        etag text not null,
        primary key (asset_id, path, part_number)
      );
    `);
  }

  /** The latest upload of this directory for this run, finished or not. */
  find(key: TrackedKey): TrackedUpload | undefined {
    const row = this.db
      .prepare<unknown[], UploadRow>(
        `select * from uploads where base_url = ? and directory = ? and experiment_id = ? and variation = ? and run = ?
         order by updated_at desc limit 1`,
      )
      .get(key.baseUrl, key.directory, key.experimentId, key.variation, key.run);
    return row && this.toUpload(row);
  }

  private toUpload(row: UploadRow): TrackedUpload {
    const pieces = this.db
      .prepare<[string], { path: string; part_number: number; etag: string }>(
        "select path, part_number, etag from pieces where asset_id = ?",
      )
      .all(row.asset_id)
      .map((p) => ({ path: p.path, partNumber: p.part_number, etag: p.etag }));
    return {
      baseUrl: row.base_url,
      directory: row.directory,
      experimentId: row.experiment_id,
      variation: row.variation,
      run: row.run,
      assetId: row.asset_id,
      asset: JSON.parse(row.asset) as TrackedUpload["asset"],
      idempotencyKey: row.idempotency_key,
      files: JSON.parse(row.files) as TrackedUpload["files"],
      done: row.done === 1,
      pieces,
    };
  }

  save(upload: TrackedUpload): void {
    this.db
      .prepare(
        `insert or replace into uploads
           (asset_id, base_url, directory, experiment_id, variation, run, asset, idempotency_key, files, done, updated_at)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        upload.assetId,
        upload.baseUrl,
        upload.directory,
        upload.experimentId,
        upload.variation,
        upload.run,
        JSON.stringify(upload.asset),
        upload.idempotencyKey,
        JSON.stringify(upload.files),
        upload.done ? 1 : 0,
        Date.now(),
      );
  }

  markPiece(assetId: string, path: string, partNumber: number, etag: string): void {
    this.db
      .prepare("insert or replace into pieces (asset_id, path, part_number, etag) values (?, ?, ?, ?)")
      .run(assetId, path, partNumber, etag);
  }

  markDone(assetId: string): void {
    this.db.transaction(() => {
      this.db.prepare("update uploads set done = 1, updated_at = ? where asset_id = ?").run(Date.now(), assetId);
      this.db.prepare("delete from pieces where asset_id = ?").run(assetId);
    })();
  }

  /** Every upload not finished, as the tracker last saw it. */
  pending(): TrackedUpload[] {
    return this.db
      .prepare<[], UploadRow>("select * from uploads where done = 0 order by updated_at")
      .all()
      .map((row) => this.toUpload(row));
  }

  /** Resumes every unfinished upload of this server, in the order they were started. */
  resumePending(chronicle: Chronicle): DirectoryUpload[] {
    return this.pending()
      .filter((upload) => upload.baseUrl === chronicle.baseUrl)
      .map((upload) =>
        chronicle
          .run(upload.experimentId, upload.variation, upload.run)
          .uploadDirectoryAsync(upload.directory, { ...upload.asset, uploadTracker: this }),
      );
  }

  close(): void {
    this.db.close();
  }
}
