/**
 * Test helper: build struct text_event samples exactly as the kernel lays them out (offsets from the
 * generated layout, never typed by hand), and split a text into chunks as bpf/shell/text.bpf.h does.
 */
import { EventFlags, EventHdrLayout, TextEventLayout } from '../../gen/events.js';

const off = (fields: readonly { name: string; offset: number }[], n: string): number => {
  const f = fields.find((x) => x.name === n);
  if (!f) throw new Error(`no field ${n}`);
  return f.offset;
};
const T = (n: string): number => off(TextEventLayout.fields, n);
const H = (n: string): number => off(EventHdrLayout.fields, n);

export interface SampleSpec {
  kind: number;
  source: number;
  id: number;
  pid?: number;
  tid?: number;
  uid?: number;
  comm?: string;
  tsNs?: number;
  flags?: number;
  session?: number;
  value?: number;
  aux?: number;
  retval?: number;
  totalLen?: number;
  chunkOff?: number;
  payload?: Buffer | string;
}

export function textSample(s: SampleSpec): Buffer {
  const payload = typeof s.payload === 'string' ? Buffer.from(s.payload) : (s.payload ?? Buffer.alloc(0));
  const b = Buffer.alloc(TextEventLayout.PAYLOAD_OFFSET + payload.length);
  b.writeUInt32LE(s.kind, H('kind'));
  b.writeUInt32LE(s.flags ?? EventFlags.EVF_LAST_CHUNK, H('flags'));
  b.writeBigUInt64LE(BigInt(s.tsNs ?? 1_000_000), H('ts_ns'));
  b.writeUInt32LE(s.pid ?? 100, H('pid'));
  b.writeUInt32LE(s.tid ?? s.pid ?? 100, H('tid'));
  b.writeUInt32LE(s.uid ?? 0, H('uid'));
  b.write(s.comm ?? 'bash', H('comm'), 15, 'latin1');
  b.writeBigUInt64LE(BigInt(s.id), T('id'));
  b.writeBigUInt64LE(BigInt(s.session ?? 0), T('session'));
  b.writeBigUInt64LE(BigInt(s.value ?? 0), T('value'));
  b.writeUInt32LE(s.source, T('source'));
  b.writeUInt32LE(s.aux ?? 0, T('aux'));
  b.writeInt32LE(s.retval ?? 0, T('retval'));
  b.writeUInt32LE(s.totalLen ?? 0, T('total_len'));
  b.writeUInt32LE(s.chunkOff ?? 0, T('chunk_off'));
  b.writeUInt32LE(payload.length, T('payload_len'));
  payload.copy(b, TextEventLayout.PAYLOAD_OFFSET);
  return b;
}

/** A C string as the kernel sends it: chunks of up to 16383 bytes, the last flagged. */
export function stringChunks(base: Omit<SampleSpec, 'payload' | 'chunkOff' | 'flags'>, text: Buffer | string, chunk = 16383): Buffer[] {
  const t = typeof text === 'string' ? Buffer.from(text) : text;
  const out: Buffer[] = [];
  let o = 0;
  do {
    const n = Math.min(chunk, t.length - o);
    const last = o + n >= t.length && n < chunk;
    out.push(textSample({ ...base, chunkOff: o, payload: t.subarray(o, o + n), flags: last ? EventFlags.EVF_LAST_CHUNK : 0 }));
    o += n;
    if (!last && o >= t.length) {
      out.push(textSample({ ...base, chunkOff: o, payload: Buffer.alloc(0), flags: EventFlags.EVF_LAST_CHUNK }));
      break;
    }
  } while (o < t.length);
  return out;
}
