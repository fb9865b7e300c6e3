/** An HTTP/1 message from its parsed head, collected body and trailers: content decoding included. */
import type { BodyCollector } from '../body.js';
import { decodeContent } from '../content-decode.js';
import type { HeaderList, HttpMessage } from '../types.js';
import { headerList, type Http1Head } from './head.js';

export function buildHttp1Message(
  h: Http1Head,
  b: BodyCollector,
  trailers: HeaderList | undefined,
  incomplete: 'gap' | 'closed' | undefined,
  maxDecoded: number,
): HttpMessage {
  const raw = b.finish();
  const msg: HttpMessage = { protocol: 'http1', kind: h.kind, version: h.version, headers: h.headers, body: raw, bodySize: b.size };
  if (h.kind === 'request') {
    msg.method = h.method!;
    msg.target = h.target!;
  } else {
    msg.status = h.status!;
    msg.reason = h.reason!;
  }
  if (trailers) msg.trailers = trailers;
  if (b.truncated > 0) msg.bodyTruncated = b.truncated;
  if (b.lost > 0) msg.bodyLost = b.lost;
  if (incomplete) msg.incomplete = incomplete;
  const ce = headerList(h.headers, 'content-encoding');
  if (ce !== undefined && raw.length > 0) {
    msg.contentEncoding = ce.toLowerCase();
    if (h.status === 206) {
      msg.notes = ['partial content (206): body not content-decoded'];
    } else {
      const r = decodeContent(raw, ce, maxDecoded, b.truncated > 0 || b.lost > 0 || incomplete !== undefined);
      msg.body = r.body;
      msg.decoded = r.decoded;
      if (r.note) msg.notes = [r.note];
    }
  }
  return msg;
}
