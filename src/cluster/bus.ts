// The cache invalidation bus: small messages on topics, delivered to every process's subscribers.
// LocalBus serves one process (SQLite, embedded); PostgresBus spreads messages over PostgreSQL
// LISTEN/NOTIFY. Delivery is best effort: a process that was disconnected misses what was published
// meanwhile, so on a disconnection and again once reconnected the bus publishes the `resync` topic
// locally, and a cache that subscribes to it flushes itself.
import type { Client, Notification } from 'pg';
import type { Logger } from 'pino';

export interface Bus {
  /** Delivers `message` to the subscribers of `topic` in every process, this one included (once). */
  publish(topic: string, message: string): Promise<void>;
  /** Subscribes to a topic; returns the function that unsubscribes. */
  subscribe(topic: string, fn: (message: string) => void): () => void;
  close(): Promise<void>;
}

/** Published locally when messages may have been lost: flush whatever the bus keeps correct. */
export const RESYNC_TOPIC = 'resync';

/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more. */
export const MAX_PAYLOAD_BYTES = 7999;

/** The PostgreSQL channel of every berth process. */
export const BUS_CHANNEL = 'berth_bus';

export function encodeMessage(topic: string, message: string): string {
  if (topic === '' || topic.includes('\n')) throw new RangeError(`invalid bus topic ${JSON.stringify(topic.slice(0, 50))}: non-empty, without newline`);
  const payload = `${topic}\n${message}`;
  const bytes = Buffer.byteLength(payload, 'utf8');
  if (bytes > MAX_PAYLOAD_BYTES) throw new RangeError(`bus message on ${topic} is ${bytes} bytes with its topic; at most ${MAX_PAYLOAD_BYTES}`);
  return payload;
}

export function decodeMessage(payload: string): { topic: string; message: string } | undefined {
  const nl = payload.indexOf('\n');
  if (nl <= 0) return undefined;
  return { topic: payload.slice(0, nl), message: payload.slice(nl + 1) };
}

/** Subscriptions of one process, shared by both buses. */
class Subscribers {
  private readonly topics = new Map<string, Set<(message: string) => void>>();
  private readonly log: Logger | undefined;

  constructor(log: Logger | undefined) {
    this.log = log;
  }

  add(topic: string, fn: (message: string) => void): () => void {
    let set = this.topics.get(topic);
    if (set === undefined) {
      set = new Set();
      this.topics.set(topic, set);
    }
    // A wrapper, so that subscribing the same function twice gives two subscriptions.
    const entry = (message: string): void => fn(message);
    set.add(entry);
    return () => {
      const s = this.topics.get(topic);
      s?.delete(entry);
      if (s?.size === 0) this.topics.delete(topic);
    };
  }

  deliver(topic: string, message: string): void {
    const set = this.topics.get(topic);
    if (set === undefined) return;
    for (const fn of [...set]) {
      try {
        fn(message);
      } catch (err) {
        this.log?.error({ err, topic }, 'bus subscriber failed');
      }
    }
  }

  clear(): void {
    this.topics.clear();
  }
}

/** One process: publish calls the subscribers at once. */
export class LocalBus implements Bus {
  private readonly subs: Subscribers;
  private closed = false;

  constructor(opts: { log?: Logger } = {}) {
    this.subs = new Subscribers(opts.log);
  }

  async publish(topic: string, message: string): Promise<void> {
    encodeMessage(topic, message);
    if (this.closed) throw new Error('the bus is closed');
    this.subs.deliver(topic, message);
  }

  subscribe(topic: string, fn: (message: string) => void): () => void {
    return this.subs.add(topic, fn);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.subs.clear();
  }
}

export interface PostgresBusOptions {
  url: string;
  log: Logger;
  /** First reconnection delay; doubles up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** How often the listening connection is checked with a query (a silent network loss shows up here). */
  pingMs?: number;
  connectTimeoutMs?: number;
}

/**
 * LISTEN/NOTIFY on one dedicated connection (not from the pool: a pooled connection would stop
 * listening when returned). Publishing goes through the same connection; NOTIFY loops back to its
 * sender, so local subscribers are called at publish time and the loop-back copy (recognised by the
 * sending backend's pid) is dropped: each local subscriber is called once per publish.
 */
export class PostgresBus implements Bus {
  private readonly opts: Required<Omit<PostgresBusOptions, 'log' | 'url'>> & { url: string };
  private readonly log: Logger;
  private readonly subs: Subscribers;
  private client: Client | null = null;
  /** The backend pid of `client`, to recognise our own notifications. */
  private pid = -1;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private attempt = 0;
  /** Resolves when the connection in progress is up (or failed); null when idle. */
  private connecting: Promise<void> | null = null;

  private constructor(opts: PostgresBusOptions) {
    this.opts = {
      url: opts.url,
      minBackoffMs: opts.minBackoffMs ?? 100,
      maxBackoffMs: opts.maxBackoffMs ?? 10_000,
      pingMs: opts.pingMs ?? 15_000,
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
    };
    this.log = opts.log;
    this.subs = new Subscribers(opts.log);
  }

  /** Connects and listens; the first connection must succeed (fail fast at start-up), later losses reconnect. */
  static async connect(opts: PostgresBusOptions): Promise<PostgresBus> {
    const bus = new PostgresBus(opts);
    await bus.open();
    bus.pingTimer = setInterval(() => bus.ping(), bus.opts.pingMs);
    bus.pingTimer.unref();
    return bus;
  }

  /** Whether the listening connection is up. While it is not, messages from other processes are lost. */
  get connected(): boolean {
    return this.client !== null;
  }

  /** The PostgreSQL backend pid of the listening connection (for diagnostics), or undefined. */
  get backendPid(): number | undefined {
    return this.client === null ? undefined : this.pid;
  }

  private async open(): Promise<void> {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: this.opts.url, connectionTimeoutMillis: this.opts.connectTimeoutMs, keepAlive: true, application_name: 'berth bus' });
    // Registered before connecting: an error event without a listener would crash the process.
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    client.on('notification', (n) => this.received(client, n));
    try {
      await client.connect();
      const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
      await client.query(`listen ${BUS_CHANNEL}`);
      if (this.closed) throw new Error('the bus is closed');
      this.pid = rows[0]?.pid ?? -1;
      this.client = client;
    } catch (e) {
      client.removeAllListeners('end');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      throw e;
    }
  }

  private received(from: Client, n: Notification): void {
    if (from !== this.client || n.channel !== BUS_CHANNEL) return;
    // Our own NOTIFY: already delivered locally when published.
    if (n.processId === this.pid) return;
    const m = decodeMessage(n.payload ?? '');
    if (m === undefined) {
      this.log.warn({ channel: n.channel }, 'malformed bus message ignored');
      return;
    }
    this.subs.deliver(m.topic, m.message);
  }

  private lost(client: Client, err: Error): void {
    if (client !== this.client) return;
    this.client = null;
    this.pid = -1;
    client.removeAllListeners('end');
    client.on('error', () => undefined);
    void client.end().catch(() => undefined);
    if (this.closed) return;
    this.log.warn({ err }, 'bus connection to PostgreSQL lost: caches resync, reconnecting');
    this.subs.deliver(RESYNC_TOPIC, 'disconnected');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer !== null) return;
    const delay = Math.min(this.opts.maxBackoffMs, this.opts.minBackoffMs * 2 ** Math.min(this.attempt, 20));
    this.attempt++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connecting = this.open().then(
        () => {
          this.log.info({ attempts: this.attempt }, 'bus reconnected to PostgreSQL');
          this.attempt = 0;
          // Whatever was published while we were away is lost: caches flush.
          this.subs.deliver(RESYNC_TOPIC, 'reconnected');
        },
        (err: unknown) => {
          if (this.closed) return;
          this.log.warn({ err, attempt: this.attempt }, 'bus reconnection failed');
          this.scheduleReconnect();
        },
      );
      void this.connecting.finally(() => {
        this.connecting = null;
      });
    }, delay);
    this.reconnectTimer.unref();
  }

  private ping(): void {
    const client = this.client;
    if (client === null) return;
    client.query('select 1').catch((err: unknown) => this.lost(client, err instanceof Error ? err : new Error(String(err))));
  }

  async publish(topic: string, message: string): Promise<void> {
    const payload = encodeMessage(topic, message);
    if (this.closed) throw new Error('the bus is closed');
    this.subs.deliver(topic, message);
    const client = this.client;
    if (client === null) throw new Error('the bus is disconnected from PostgreSQL: other processes see the change only when their cache entries expire');
    await client.query('select pg_notify($1, $2)', [BUS_CHANNEL, payload]);
  }

  subscribe(topic: string, fn: (message: string) => void): () => void {
    return this.subs.add(topic, fn);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.reconnectTimer = null;
    this.pingTimer = null;
    if (this.connecting !== null) await this.connecting.catch(() => undefined);
    const client = this.client;
    this.client = null;
    this.subs.clear();
    if (client !== null) {
      client.removeAllListeners('end');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
    }
  }
}
