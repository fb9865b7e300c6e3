/**
 * Messages produced by the pure protocol parsers (src/protocols/*). SEED: the protocols work (issue 3)
 * owns this file and may refine it; keep `protocol` and `kind` as the discriminants.
 */

export interface HttpMessage {
  protocol: 'http1' | 'http2';
  kind: 'request' | 'response';
  /** HTTP/2 stream id */
  streamId?: number;
  method?: string;
  target?: string;
  status?: number;
  reason?: string;
  /** 'HTTP/1.1', 'HTTP/2' */
  version: string;
  headers: Array<[string, string]>;
  trailers?: Array<[string, string]>;
  /** decoded body (after chunked and content-encoding decoding) */
  body: Buffer;
  /** bytes of body not kept because of limits */
  bodyTruncated?: number;
  /** request end → response start, for responses paired with a request */
  latencyNs?: number;
}

export interface RawMessage {
  protocol: 'raw';
  kind: 'data';
  payload: Buffer;
}

export type L7Message = HttpMessage | RawMessage;
