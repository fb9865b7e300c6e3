/**
 * Connection tracker configuration. Every limit is a flag (see the CLI options); hitting one is counted in
 * the tracker's stats and shown once per connection as a NoticeRecord, never an error.
 *
 * Memory bound: kept bytes (reorder buffers, message bodies being assembled) are drawn from a budget of
 * maxConnBytes per connection and maxTotalBytes overall. On top of that each connection holds at most a
 * fixed parser state: two header blocks (2 × Limits.maxHeaderBytes), the detection buffer
 * (Limits.maxDetectBytes) and, for HTTP/2, two HPACK tables (2 × Limits.maxHpackTableBytes); idle
 * connections cost about 1-2 KB each (see `npm run bench`).
 */
import { DEFAULT_LIMITS, type Limits } from '../protocols/limits.js';

export interface TrackerConfig {
  /** Close a connection after this long without events, flushing what is pending. Default 5000 ms. */
  idleTimeoutMs: number;
  /** Kept bytes per connection (reorder buffer + bodies being assembled). Default 8 MiB. */
  maxConnBytes: number;
  /** Kept bytes over all connections. Default 256 MiB. */
  maxTotalBytes: number;
  /** Connections tracked at once; beyond it the least recently active is closed. Default 16384. */
  maxConns: number;
  /** Out-of-order chunks held per direction before the missing bytes are declared lost. Default 32. */
  reorderMaxChunks: number;
  /** Out-of-order bytes held per direction (also drawn from the connection budget). Default 1 MiB. */
  reorderMaxBytes: number;
  /** How long a hole may wait for its bytes before they are declared lost (checked in tick). Default 200 ms. */
  reorderWaitMs: number;
  /** Connections closed by the tracker (idle, evicted) remembered for when they send again: stream positions,
   *  and HPACK tables for HTTP/2. Default 16384. */
  dormantConns: number;
  /** HPACK table bytes (RFC 7541 accounting) those remembered connections may keep. Default 16 MiB. */
  dormantH2Bytes: number;
  /** Parse protocols (HTTP/1, HTTP/2, WebSocket); false = order and pass data through only. Default true. */
  parse: boolean;
  /** Parser limits. */
  limits: Limits;
}

export const DEFAULT_TRACKER_CONFIG: Readonly<TrackerConfig> = Object.freeze({
  idleTimeoutMs: 5000,
  maxConnBytes: 8 * 1024 * 1024,
  maxTotalBytes: 256 * 1024 * 1024,
  maxConns: 16384,
  reorderMaxChunks: 32,
  reorderMaxBytes: 1024 * 1024,
  reorderWaitMs: 200,
  dormantConns: 16384,
  dormantH2Bytes: 16 * 1024 * 1024,
  parse: true,
  limits: DEFAULT_LIMITS,
});

/** Tracker options as given by callers: any subset, parser limits included. */
export type TrackerOptions = Partial<Omit<TrackerConfig, 'limits'>> & { limits?: Partial<Limits> };

export function makeTrackerConfig(over: TrackerOptions = {}): TrackerConfig {
  const { limits, ...rest } = over;
  return { ...DEFAULT_TRACKER_CONFIG, ...rest, limits: { ...DEFAULT_LIMITS, ...limits } };
}
