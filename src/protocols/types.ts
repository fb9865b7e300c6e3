/**
 * Messages produced by the pure protocol parsers (src/protocols/*), carried in L7Record.msg.
 *
 * `protocol` and `kind` are the discriminants. Every message is complete in itself: bodies are already
 * transfer-decoded (chunked removed, HTTP/2 DATA joined) and content-decoded (gzip, deflate, br) when
 * possible, and any shortening is said explicitly (`bodyTruncated`, `incomplete`, `notes`), never silent.
 * No field is a bigint, so messages can be compared and serialised without a custom replacer (Buffers excepted).
 */

/**
 * Header fields in wire order, names as received (HTTP/2 names are lower case; pseudo-headers first).
 * The [name, value] tuples are read-only: an HTTP/2 list shares them with its connection's HPACK tables
 * (see http2/hpack.ts), so a consumer must copy a tuple to change it. The list itself is the message's own.
 */
export type HeaderList = Array<readonly [string, string]>;

/** A header list whose tuples its builder owns and may still change (HTTP/1 joins obs-fold lines into them). */
export type OwnHeaderList = Array<[string, string]>;

/** Why a message ended before its protocol said it was complete. */
export type IncompleteReason =
  | 'closed' // the connection closed (or was evicted / timed out) mid-message
  | 'reset' // HTTP/2 RST_STREAM
  | 'gap' // bytes were lost (ring buffer full) and the message could not be finished
  | 'limit'; // a stream table limit forced it out

export interface HttpMessage {
  protocol: 'http1' | 'http2';
  kind: 'request' | 'response';
  /** HTTP/2 stream id */
  streamId?: number;
  method?: string;
  /** HTTP/1 request-target, HTTP/2 :path */
  target?: string;
  status?: number;
  reason?: string;
  /** 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2' */
  version: string;
  /** For HTTP/2 the pseudo-headers come first, as received. */
  headers: HeaderList;
  trailers?: HeaderList;
  /**
   * The body as shown: content-decoded when `decoded` is true, otherwise the bytes as transferred
   * (chunked framing removed). At most Limits.maxDecodedBytes (decoded) or Limits.maxBodyBytes (raw).
   */
  body: Buffer;
  /** Body bytes seen on the wire after transfer decoding (before content decoding), including bytes not kept. */
  bodySize: number;
  /** Body bytes not kept because of limits (bodySize − kept). */
  bodyTruncated?: number;
  /** Body bytes lost to capture gaps (counted in bodySize, absent from body). */
  bodyLost?: number;
  /** Content-Encoding as declared, lower case, e.g. 'gzip' or 'gzip, br'. */
  contentEncoding?: string;
  /** true when `body` is the content-decoded form. */
  decoded?: boolean;
  /** gRPC framing of the body, when content-type is application/grpc*. */
  grpc?: GrpcInfo;
  /** HTTP/2: this request came from a PUSH_PROMISE. */
  pushed?: boolean;
  /** HTTP/2: RST_STREAM error code that ended the stream. */
  resetCode?: number;
  incomplete?: IncompleteReason;
  /** For a response paired with its request: request end → response start, nanoseconds. */
  latencyNs?: number;
  /** For a response paired with its request. */
  request?: { method?: string; target?: string };
  /** Human-readable diagnostics: decoding failures, HPACK references to unknown entries, ... */
  notes?: string[];
}

export interface GrpcMessage {
  compressed: boolean;
  /** length from the 5-byte prefix */
  length: number;
  /** message bytes (decompressed when compressed and the grpc-encoding is supported), bounded */
  data: Buffer;
  /** bytes of this message not kept (limits or body truncation) */
  truncated?: number;
  error?: string;
}

export interface GrpcInfo {
  messages: GrpcMessage[];
  /** messages beyond Limits.maxGrpcMessages, counted only */
  dropped?: number;
  /** grpc-encoding header value */
  encoding?: string;
  /** grpc-status from trailers (or a trailers-only response) */
  status?: number;
  /** grpc-message, percent-decoded */
  message?: string;
}

/** A WebSocket data message (fragments joined) or control frame. */
export interface WebSocketMessage {
  protocol: 'websocket';
  kind: 'message' | 'control';
  /** 1 text, 2 binary, 8 close, 9 ping, 10 pong; other values for reserved opcodes */
  opcode: number;
  opcodeName: string;
  masked: boolean;
  /** total payload length as framed (before permessage-deflate decompression) */
  length: number;
  /** unmasked (and, for compressed messages, decompressed) payload, bounded */
  payload: Buffer;
  payloadTruncated?: number;
  /** number of frames joined (data messages), when more than one */
  fragments?: number;
  /** RSV1 set: permessage-deflate */
  compressed?: boolean;
  closeCode?: number;
  closeReason?: string;
  incomplete?: IncompleteReason;
  notes?: string[];
}

/** HTTP/2 connection-level frames worth showing (SETTINGS, GOAWAY, and with h2Control 'all' the rest). */
export interface Http2ControlMessage {
  protocol: 'http2';
  kind: 'control';
  frameType: string;
  /** numeric frame type (useful for unknown types) */
  type: number;
  flags: number;
  streamId: number;
  length: number;
  /** SETTINGS: [name, value] in order */
  settings?: Array<[string, number]>;
  ack?: boolean;
  /** GOAWAY, RST_STREAM */
  errorCode?: number;
  errorName?: string;
  lastStreamId?: number;
  /** GOAWAY debug data, PING opaque data */
  data?: Buffer;
  windowIncrement?: number;
  promisedStreamId?: number;
}

/** Bytes shown as they are: a tunnel after HTTP CONNECT, or an unknown protocol. */
export interface RawMessage {
  protocol: 'raw';
  kind: 'data';
  payload: Buffer;
}

export type L7Message = HttpMessage | Http2ControlMessage | WebSocketMessage | RawMessage;

/** Protocol a connection was detected as (or switched to by Upgrade). */
export type ConnProtocol = 'unknown' | 'http1' | 'http2' | 'websocket' | 'tls' | 'raw';
