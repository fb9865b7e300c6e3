/**
 * Connection management shared by the TCP and WebSocket sinks: connect at creation, and whenever the connection
 * fails or closes, retry with exponential backoff (100 ms doubling to a 5 s cap by default) while write() keeps
 * queueing into the bounded buffer. A successful reconnection is announced with the exact count of chunks dropped
 * while the output was away.
 */
import { QueuedSink } from './queued.js';
import type { SinkOptions } from './types.js';

export class Backoff {
  readonly #initial: number;
  readonly #max: number;
  #next: number;
  constructor(initialMs = 100, maxMs = 5000) {
    this.#initial = Math.max(1, initialMs);
    this.#max = Math.max(this.#initial, maxMs);
    this.#next = this.#initial;
  }
  next(): number {
    const d = this.#next;
    this.#next = Math.min(this.#next * 2, this.#max);
    return d;
  }
  reset(): void {
    this.#next = this.#initial;
  }
}

export abstract class ReconnectingSink extends QueuedSink {
  readonly #backoff: Backoff;
  #up = false;
  #everUp = false;
  #attempts = 0;
  #timer: NodeJS.Timeout | undefined;
  /** drops counted when the current/previous connection opened */
  #droppedAtUp = 0;
  #lastError = '';

  constructor(name: string, opts: SinkOptions = {}) {
    super(name, opts);
    this.#backoff = new Backoff(opts.backoff?.initialMs, opts.backoff?.maxMs);
  }

  /** Open a new connection; report with `opened()` and, exactly once per attempt, `down(err?)`. */
  protected abstract _connect(): void;
  /** Tear down the current connection (if any) for good. */
  protected abstract _disconnect(): void | Promise<void>;

  /** Subclasses call this from their constructor, after their own fields are set. */
  protected start(): void {
    this.#attempt();
  }

  #attempt(): void {
    this.#timer = undefined;
    if (this.isClosed) return;
    this.#attempts++;
    try {
      this._connect();
    } catch (err) {
      this.down(err);
    }
  }

  protected opened(): void {
    if (this.isClosed) return;
    this.#up = true;
    this.#backoff.reset();
    if (this.#everUp) {
      this.counters.reconnects++;
      const lost = this.counters.dropped - this.#droppedAtUp;
      this.notice({
        kind: 'reconnected', level: 'info', dropped: lost, totalDropped: this.counters.dropped,
        message: `${this.name}: reconnected after ${this.#attempts} attempt(s); ${lost} chunks dropped since the previous connection opened`,
      });
    }
    this.#droppedAtUp = this.counters.dropped;
    this.#everUp = true;
    this.#attempts = 0;
    this.kick();
  }

  protected down(err?: unknown): void {
    const wasUp = this.#up;
    this.#up = false;
    if (this.isClosed) return;
    const why = err instanceof Error ? err.message : err === undefined ? 'closed by peer' : String(err);
    if (wasUp) {
      this.notice({ kind: 'disconnected', level: 'warn', message: `${this.name}: connection lost (${why}); reconnecting`, cause: err });
    } else if (this.#attempts === 1 || why !== this.#lastError) {
      this.notice({ kind: 'connect_failed', level: 'warn', message: `${this.name}: cannot connect (${why}); retrying`, cause: err });
    }
    this.#lastError = why;
    if (this.#timer) return;
    this.#timer = setTimeout(() => this.#attempt(), this.#backoff.next());
    this.#timer.unref?.();
  }

  /** The current connection can take a write now (it may be closing before `down` is reported). */
  protected abstract _writable(): boolean;

  protected override _ready(): boolean {
    return this.#up && this._writable();
  }
  protected override _connected(): boolean {
    return this.#up;
  }

  protected override async _release(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#up = false;
    await this._disconnect();
  }
}
