// Named leases over the `leases` table: at most one owner at a time, until a time. Several processes
// over one database use them to elect a leader (the scheduler). Each acquisition, renewal or take-over
// is one SQL statement (an upsert whose update only applies when the lease expired or is ours), so two
// processes racing for the same lease cannot both win. Times are the processes' clocks in epoch ms:
// keep them synchronised (NTP); a skew shortens or lengthens a lease by as much.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { MetaStore } from '../meta/index.ts';

export interface LeaseOptions {
  /** The lease's name, e.g. `scheduler`. */
  name: string;
  /** How long an acquisition or renewal holds the lease. */
  ttlMs: number;
  /** This holder's id; random per Lease (so per process) when omitted. */
  owner?: string;
  now?: () => number;
  log?: Logger;
  /** Called when an attempt acquires the lease (true) or finds it taken while we held it, and on stop() (false). */
  onChange?: (held: boolean) => void;
}

/** A random owner id that still tells an operator which host and process holds a lease. */
export function newOwnerId(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

export class Lease {
  readonly name: string;
  readonly owner: string;
  readonly ttlMs: number;
  private readonly meta: MetaStore;
  private readonly now: () => number;
  private readonly log: Logger | undefined;
  private readonly onChange: ((held: boolean) => void) | undefined;
  /** Until when we hold the lease, as far as we know (0 when we do not). */
  private heldUntil = 0;
  private timer: NodeJS.Timeout | null = null;
  /** The acquisition or renewal under way, so that they never overlap and stop() can wait for it. */
  private busy: Promise<boolean> | null = null;
  /** Whether this Lease ever wrote its row (stop() has nothing to release otherwise). */
  private attempted = false;

  constructor(meta: MetaStore, opts: LeaseOptions) {
    if (!(opts.ttlMs > 0)) throw new RangeError('lease ttlMs must be positive');
    this.meta = meta;
    this.name = opts.name;
    this.ttlMs = opts.ttlMs;
    this.owner = opts.owner ?? newOwnerId();
    this.now = opts.now ?? Date.now;
    this.log = opts.log;
    this.onChange = opts.onChange;
  }

  /**
   * Acquires the lease when it is free or expired, or renews it when we hold it. Returns whether we
   * hold it now. A database error leaves what we knew (a lease we held stays held until it expires).
   */
  async tryAcquire(): Promise<boolean> {
    if (this.busy !== null) return await this.busy;
    const p = this.attempt().finally(() => {
      this.busy = null;
    });
    this.busy = p;
    return await p;
  }

  private async attempt(): Promise<boolean> {
    this.attempted = true;
    const now = this.now();
    const until = now + this.ttlMs;
    const wasHeld = this.isHeld();
    // One statement: insert, or take over an expired lease, or renew ours. When the row exists, is
    // unexpired and someone else's, the update's condition is false and nothing is returned. On
    // PostgreSQL the conflicting row is locked and the condition re-checked on its newest version, so
    // of two processes taking over an expired lease at once exactly one gets a row back.
    const row = await this.meta.db
      .insertInto('leases')
      .values({ name: this.name, owner: this.owner, until })
      .onConflict((oc) =>
        oc
          .column('name')
          .doUpdateSet({ owner: this.owner, until })
          .where((eb) => eb.or([eb('leases.until', '<', now), eb('leases.owner', '=', this.owner)])),
      )
      .returning(['owner', 'until'])
      .executeTakeFirst();
    const held = row !== undefined && row.owner === this.owner;
    this.heldUntil = held ? until : 0;
    if (held && !wasHeld) this.log?.info({ lease: this.name, owner: this.owner, ttlMs: this.ttlMs }, 'lease acquired');
    if (!held && wasHeld) this.log?.warn({ lease: this.name, owner: this.owner }, 'lease lost');
    if (held !== wasHeld) this.onChange?.(held);
    return held;
  }

  /** Whether we hold the lease now (acquired or renewed, and not yet expired by our clock). */
  isHeld(): boolean {
    return this.heldUntil > this.now();
  }

  /** Tries to acquire at once, then every ttl/3: renews while held, takes over once it is free. */
  start(): void {
    if (this.timer !== null) return;
    const every = Math.max(1, Math.floor(this.ttlMs / 3));
    this.timer = setInterval(() => this.background(), every);
    this.timer.unref();
    this.background();
  }

  private background(): void {
    this.tryAcquire().catch((err: unknown) => {
      this.log?.warn({ err, lease: this.name, held: this.isHeld() }, 'lease renewal failed');
    });
  }

  /** Stops renewing and releases the lease if we hold it (deletes our row). */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    // A renewal that lands after the delete would re-create the row: wait for it first.
    if (this.busy !== null) await this.busy.catch(() => false);
    const wasHeld = this.isHeld();
    this.heldUntil = 0;
    if (wasHeld) this.onChange?.(false);
    if (!this.attempted) return;
    try {
      await this.meta.db.deleteFrom('leases').where('name', '=', this.name).where('owner', '=', this.owner).execute();
      if (wasHeld) this.log?.info({ lease: this.name, owner: this.owner }, 'lease released');
    } catch (err) {
      // It expires by itself.
      this.log?.warn({ err, lease: this.name }, 'could not release lease');
    }
  }
}
