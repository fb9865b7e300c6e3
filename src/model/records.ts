/**
 * The records that flow from probes through connection tracking and protocol parsing to the outputs.
 *
 * Probes (src/probes/*) turn decoded kernel events into these records; src/conn groups DataRecords per
 * connection and direction and runs protocol parsers, which add L7Records; encoders (src/output/encoders)
 * turn any record into text, JSON or protobuf. Every record says who (pid, tid, uid, comm) and when
 * (wall-clock nanoseconds).
 */

/** Capture module names, as on the CLI. */
export type ModuleName = 'tls' | 'gotls' | 'gnutls' | 'nss' | 'bash' | 'zsh' | 'mysqld' | 'postgres';

/** Direction of data, seen from the traced process: `write` = sent by it, `read` = received by it. */
export type Direction = 'read' | 'write';

export interface Endpoint {
  addr: string; // dotted IPv4 or RFC 5952 IPv6 text
  port: number;
}

/** A connection's endpoints, oriented from the traced process: local is its own socket address. */
export interface ConnTuple {
  family: 4 | 6;
  local: Endpoint;
  remote: Endpoint;
}

/** Who did it. */
export interface Who {
  pid: number;
  tid: number;
  uid: number;
  comm: string;
  /** cgroup v2 id, when the kernel reported it */
  cgroupId?: bigint;
}

interface RecordBase {
  /** Wall-clock time, nanoseconds since the Unix epoch. */
  ts: bigint;
  module: ModuleName;
  who: Who;
}

/** Plaintext bytes of one read or write (or a part of one: large calls arrive as several chunks). */
export interface DataRecord extends RecordBase {
  type: 'data';
  dir: Direction;
  fd: number;
  /** Stable id of the connection within the process (e.g. the SSL* pointer), hex. */
  connId: string;
  tuple?: ConnTuple;
  /** Byte position of payload[0] in this connection+direction's stream. */
  seq: number;
  /** May be a view into a larger batch buffer: copy it (Buffer.from) before keeping it past the current call. */
  payload: Buffer;
  /** TLS library that produced it, e.g. 'openssl 3.0.22', 'boringssl', 'go1.19.8'. */
  lib?: string;
}

/** Bytes the kernel could not deliver (ring buffer full) on one connection+direction. */
export interface GapRecord extends RecordBase {
  type: 'gap';
  dir: Direction;
  fd: number;
  connId: string;
  tuple?: ConnTuple;
  seq: number;
  lostBytes: number;
}

/** A connection seen closed (or idle for too long) by the tracker. */
export interface ConnCloseRecord extends RecordBase {
  type: 'conn_close';
  fd: number;
  connId: string;
  tuple?: ConnTuple;
  reason: 'closed' | 'idle' | 'shutdown' | 'limit';
  bytesRead: number;
  bytesWritten: number;
  /** stream positions the kernel counted (reads, writes) when the library freed the connection: bytes
   * beyond what was delivered were lost, and show as a gap */
  finalSeq?: { read: number; write: number };
}

/** One TLS secret in NSS key log form. */
export interface KeyRecord extends RecordBase {
  type: 'key';
  label: string; // CLIENT_RANDOM, CLIENT_HANDSHAKE_TRAFFIC_SECRET, ...
  clientRandom: Buffer;
  secret: Buffer;
  tlsVersion?: number; // 0x0303, 0x0304
}

/** A line typed into an interactive shell, with its exit status when known. */
export interface ShellRecord extends RecordBase {
  type: 'shell';
  shell: 'bash' | 'zsh';
  line: string;
  retval?: number;
  tty?: string;
  cwd?: string;
  /** the line is not whole: longer than the kernel sends (4 MiB), or chunks were lost */
  truncated?: boolean;
}

/** A query that reached a database server. */
export interface QueryRecord extends RecordBase {
  type: 'query';
  db: 'mysqld' | 'postgres';
  query: string;
  /** full length of the query text in the server */
  length: number;
  status?: string;
  retval?: number;
  database?: string;
  client?: string;
  /** 'simple' | 'prepare' | 'execute' | ... */
  kind?: string;
  /** the query text is not whole: longer than the kernel sends (4 MiB), or chunks were lost */
  truncated?: boolean;
}

/** A parsed application-layer message (HTTP/1 request or response, HTTP/2 stream message, WebSocket frame, ...). */
export interface L7Record extends RecordBase {
  type: 'l7';
  dir: Direction;
  fd: number;
  connId: string;
  tuple?: ConnTuple;
  /** The message from src/protocols (see src/protocols/types.ts). */
  msg: import('../protocols/types.js').L7Message;
}

/** Something the tool itself wants the user to see in the event stream (lost events, limits hit). */
export interface NoticeRecord extends RecordBase {
  type: 'notice';
  level: 'info' | 'warn' | 'error';
  message: string;
}

export type CaptureRecord =
  | DataRecord
  | GapRecord
  | ConnCloseRecord
  | KeyRecord
  | ShellRecord
  | QueryRecord
  | L7Record
  | NoticeRecord;

export type RecordType = CaptureRecord['type'];

/** Source and destination of a record that moves data: for writes local→remote, for reads remote→local. */
export function flowEndpoints(tuple: ConnTuple, dir: Direction): { src: Endpoint; dst: Endpoint } {
  return dir === 'write' ? { src: tuple.local, dst: tuple.remote } : { src: tuple.remote, dst: tuple.local };
}

export function formatEndpoint(e: Endpoint, family: 4 | 6): string {
  return family === 6 ? `[${e.addr}]:${e.port}` : `${e.addr}:${e.port}`;
}
