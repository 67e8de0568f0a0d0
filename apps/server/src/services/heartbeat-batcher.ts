import type { Db } from "../db/client.js";
import * as q from "../db/queries/runs.js";

type Beat = Awaited<ReturnType<typeof q.heartbeat>>;

interface Waiting {
  key: q.RunKey;
  resolve(beat: Beat): void;
  reject(err: unknown): void;
}

/** More than this waits for the next statement: one statement's arrays stay small. */
const MAX_BATCH = 500;

/**
 * Heartbeat statements in flight at once. One would make every heartbeat that arrives during a slow
 * commit wait for it and then for its own; a few overlap that wait (PostgreSQL flushes their commits
 * together), while each still carries many heartbeats.
 */
const MAX_IN_FLIGHT = 4;

const keyText = (k: q.RunKey) => `${k.experimentId}\u0000${k.variation}\u0000${k.run}`;

/**
 * Coalesces heartbeats: the ones that arrive while heartbeat statements are in flight go to the database
 * together in the next one (heartbeatMany: one UPDATE, one commit), so under load the database sees a
 * few statements per round trip instead of one per request. Nothing waits on a timer: an idle server
 * sends a lone heartbeat at once. Each request is still answered only after its own row committed, with
 * that row's state, exactly as the one-statement heartbeat would.
 *
 * Statements in flight together never share a run (a heartbeat of a run already in flight waits for
 * the next statement), so this instance's statements never wait on each other's row locks, nor
 * deadlock. A batch that fails for any reason (say a deadlock with another instance's batch or the
 * reaper, or a dropped connection) is retried one heartbeat per statement, so that it fails no request
 * that would have succeeded alone.
 */
export class HeartbeatBatcher {
  private queue: Waiting[] = [];
  private inFlight = 0;
  /** The runs of the statements in flight. */
  private readonly busy = new Set<string>();
  private scheduled = false;

  constructor(private readonly db: Db) {}

  /** heartbeat()'s answer for this run: undefined when it is missing or finished. */
  beat(key: q.RunKey): Promise<Beat> {
    return new Promise<Beat>((resolve, reject) => {
      this.queue.push({ key, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= MAX_IN_FLIGHT || this.queue.length === 0) return;
    this.scheduled = true;
    // The requests read in this same turn of the event loop join the statement.
    setImmediate(() => {
      this.scheduled = false;
      void this.send();
    });
  }

  private async send(): Promise<void> {
    if (this.inFlight >= MAX_IN_FLIGHT) return;
    const batch: Waiting[] = [];
    const later: Waiting[] = [];
    const keys = new Set<string>();
    for (const waiting of this.queue) {
      const key = keyText(waiting.key);
      if (this.busy.has(key) || (batch.length >= MAX_BATCH && !keys.has(key))) later.push(waiting);
      else {
        batch.push(waiting);
        keys.add(key);
      }
    }
    this.queue = later;
    if (batch.length === 0) return; // all of them wait for runs in flight; their end schedules again
    this.inFlight++;
    for (const key of keys) this.busy.add(key);
    this.schedule();
    try {
      await (batch.length === 1 ? this.one(batch[0]!) : this.many(batch));
    } finally {
      this.inFlight--;
      for (const key of keys) this.busy.delete(key);
      this.schedule();
    }
  }

  private async one(waiting: Waiting): Promise<void> {
    try {
      waiting.resolve(await q.heartbeat(this.db, waiting.key));
    } catch (err) {
      waiting.reject(err);
    }
  }

  private async many(batch: Waiting[]): Promise<void> {
    let beats: q.Beat[];
    try {
      beats = await q.heartbeatMany(
        this.db,
        batch.map((w) => w.key),
      );
    } catch {
      await Promise.all(batch.map((w) => this.one(w)));
      return;
    }
    const byKey = new Map(beats.map((b) => [keyText(b), b]));
    for (const w of batch) {
      const beat = byKey.get(keyText(w.key));
      w.resolve(beat && { state: beat.state, lastHeartbeatAt: beat.lastHeartbeatAt });
    }
  }
}

const batchers = new WeakMap<Db, HeartbeatBatcher>();

/** The batcher of a database handle: one per server instance. */
export function heartbeatBatcher(db: Db): HeartbeatBatcher {
  let batcher = batchers.get(db);
  if (!batcher) {
    batcher = new HeartbeatBatcher(db);
    batchers.set(db, batcher);
  }
  return batcher;
}
