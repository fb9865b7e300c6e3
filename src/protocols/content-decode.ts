/**
 * Content decoding (gzip, deflate, br) of a captured body with node:zlib's synchronous API, bounded:
 * `maxOutputLength` stops a decompression bomb after `maxOut` bytes (zlib throws a RangeError then, and we
 * retry on halves of the input to still show a decoded prefix). A body we did not keep whole (truncated or
 * with lost bytes) is decoded with a sync flush so the prefix we have still decodes. zstd is not in Node 20's
 * zlib, so it (and unknown codings) is left encoded with a note.
 */
import * as zlib from 'node:zlib';

export interface DecodeResult {
  body: Buffer;
  decoded: boolean;
  note?: string;
}

type Decoder = (input: Buffer, maxOut: number, partial: boolean) => Buffer;

const Z = zlib.constants;

function zopts(maxOut: number, partial: boolean): zlib.ZlibOptions {
  return { maxOutputLength: maxOut, finishFlush: partial ? Z.Z_SYNC_FLUSH : Z.Z_FINISH };
}

const gunzip: Decoder = (b, m, p) => zlib.gunzipSync(b, zopts(m, p));
const inflate: Decoder = (b, m, p) => {
  // RFC 9110 says zlib-wrapped; some servers send raw deflate: the zlib header tells them apart.
  const zlibWrapped = b.length >= 2 && (b[0]! & 0x0f) === 8 && ((b[0]! << 8) | b[1]!) % 31 === 0;
  return zlibWrapped ? zlib.inflateSync(b, zopts(m, p)) : zlib.inflateRawSync(b, zopts(m, p));
};
const brotli: Decoder = (b, m, p) =>
  zlib.brotliDecompressSync(b, {
    maxOutputLength: m,
    finishFlush: p ? Z.BROTLI_OPERATION_FLUSH : Z.BROTLI_OPERATION_FINISH,
  });

const DECODERS: Record<string, Decoder> = {
  gzip: gunzip,
  'x-gzip': gunzip,
  deflate: inflate,
  br: brotli,
};

function isTooLarge(e: unknown): boolean {
  return e instanceof RangeError || (e as { code?: string })?.code === 'ERR_BUFFER_TOO_LARGE';
}

function errText(e: unknown): string {
  const m = (e as { message?: unknown })?.message;
  return typeof m === 'string' ? m : String(e);
}

/** Apply one decoder; on overflow, decode shrinking prefixes of the input to keep a bounded prefix of output. */
function runBounded(dec: Decoder, input: Buffer, maxOut: number, partial: boolean): { out: Buffer; capped: boolean } {
  try {
    return { out: dec(input, maxOut, partial), capped: false };
  } catch (e) {
    if (!isTooLarge(e)) throw e;
  }
  let len = input.length >> 1;
  for (let i = 0; i < 12 && len > 0; i++, len >>= 1) {
    try {
      return { out: dec(input.subarray(0, len), maxOut, true), capped: true };
    } catch (e) {
      if (!isTooLarge(e)) return { out: Buffer.alloc(0), capped: true };
    }
  }
  return { out: Buffer.alloc(0), capped: true };
}

/**
 * Undo `encoding` (a Content-Encoding value, codings applied in order) on `body`.
 * `partial` = the body is not whole (truncated by limits, lost bytes, connection closed early).
 */
export function decodeContent(body: Buffer, encoding: string, maxOut: number, partial: boolean): DecodeResult {
  const codings = encoding
    .toLowerCase()
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== 'identity');
  if (codings.length === 0) return { body, decoded: false };
  if (body.length === 0) return { body, decoded: true };
  for (const c of codings) if (!(c in DECODERS)) return { body, decoded: false, note: `content-encoding ${c} not decoded` };
  let cur = body;
  let note: string | undefined;
  for (let i = codings.length - 1; i >= 0; i--) {
    const c = codings[i]!;
    try {
      const r = runBounded(DECODERS[c]!, cur, maxOut, partial);
      cur = r.out;
      if (r.capped) note = `decoded ${c} body exceeds ${maxOut} bytes; showing a decoded prefix of ${cur.length} bytes`;
    } catch (e) {
      return { body, decoded: false, note: `${c} decoding failed: ${errText(e)}` };
    }
  }
  if (partial && note === undefined) note = 'body incomplete: decoded prefix only';
  return note === undefined ? { body: cur, decoded: true } : { body: cur, decoded: true, note };
}

const WS_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * Inflate one permessage-deflate message (RFC 7692 §7.2.2: append 00 00 ff ff, raw inflate). Works when
 * the message does not refer to earlier ones (no_context_takeover, or the first message); otherwise zlib
 * reports a distance too far back and we say so.
 */
export function inflateWsMessage(payload: Buffer, maxOut: number): { ok: true; body: Buffer } | { ok: false; error: string } {
  try {
    const body = zlib.inflateRawSync(Buffer.concat([payload, WS_TAIL]), zopts(maxOut, true));
    return { ok: true, body };
  } catch (e) {
    return { ok: false, error: isTooLarge(e) ? `inflated size exceeds ${maxOut} bytes` : errText(e) };
  }
}
