import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventFlags, EventKind, TextSource } from '../../gen/events.js';
import { BoundedMap, TextAssembler, decodeTextChunk, textOf } from './text.js';
import { stringChunks, textSample } from './test-events.js';

const base = { kind: EventKind.EVENT_QUERY, source: TextSource.TEXT_PG_QUERY, id: 7 };

test('decodeTextChunk: fields, flags, and rejection of short or foreign samples', () => {
  const s = textSample({ ...base, pid: 42, comm: 'postgres', aux: 0x51, payload: 'select 1', flags: EventFlags.EVF_LAST_CHUNK | EventFlags.EVF_TRUNCATED });
  const c = decodeTextChunk(s)!;
  assert.equal(c.event.hdr.pid, 42);
  assert.equal(c.event.hdr.comm, 'postgres');
  assert.equal(c.event.aux, 0x51);
  assert.equal(c.bytes.toString(), 'select 1');
  assert.ok(c.last && c.truncated);
  assert.equal(decodeTextChunk(s.subarray(0, 50)), undefined, 'short');
  const tls = Buffer.from(s);
  tls.writeUInt32LE(EventKind.EVENT_TLS_DATA, 0);
  assert.equal(decodeTextChunk(tls), undefined, 'not an audit event');
  // payload_len larger than the sample: clamped to what is there
  const cut = s.subarray(0, s.length - 3);
  assert.equal(decodeTextChunk(cut)!.bytes.toString(), 'selec');
});

test('TextAssembler: one chunk, many chunks (64 KiB+ and exact multiples), holes, cuts', () => {
  const a = new TextAssembler();
  const one = a.add('k1', decodeTextChunk(textSample({ ...base, payload: 'short' }))!)!;
  assert.deepEqual([one.text.toString(), one.truncated, one.incomplete, one.length], ['short', false, false, 5]);

  for (const size of [0, 16383, 16384, 70_000, 5 * 16383]) {
    const text = Buffer.alloc(size, 0x61);
    for (let i = 0; i < size; i += 977) text[i] = 0x30 + (i % 10);
    const chunks = stringChunks(base, text);
    let got;
    for (const [i, s] of chunks.entries()) {
      got = a.add(`big${size}`, decodeTextChunk(s)!);
      if (i < chunks.length - 1) assert.equal(got, undefined);
    }
    assert.ok(got, `size ${size} completes`);
    assert.ok(got.text.equals(text), `size ${size} is whole`);
    assert.equal(got.length, size);
    assert.equal(got.incomplete, false);
  }
  assert.equal(a.size, 0, 'nothing left pending');

  // a lost middle chunk: the text completes, marked incomplete
  const chunks = stringChunks(base, Buffer.alloc(40_000, 0x62));
  let r;
  for (const s of [chunks[0]!, chunks[2]!]) r = a.add('hole', decodeTextChunk(s)!);
  assert.ok(r && r.incomplete && r.text.length === 16383 + (40_000 - 2 * 16383));

  // the kernel cut it
  const t = a.add('cut', decodeTextChunk(textSample({ ...base, payload: 'x', flags: EventFlags.EVF_LAST_CHUNK | EventFlags.EVF_TRUNCATED }))!)!;
  assert.ok(t.truncated);
});

test('TextAssembler: limits (text size, pending count and bytes) and forget()', () => {
  const a = new TextAssembler({ maxTextBytes: 20_000, maxPending: 2, maxPendingBytes: 100_000 });
  const chunks = stringChunks(base, Buffer.alloc(50_000, 0x63));
  let r;
  for (const s of chunks) r = a.add('t', decodeTextChunk(s)!);
  assert.ok(r && r.truncated && r.text.length === 20_000 && r.length === 50_000);

  const first = (k: string, id: number): void => {
    assert.equal(a.add(k, decodeTextChunk(stringChunks({ ...base, id }, Buffer.alloc(20_000, 0x64))[0]!)!), undefined);
  };
  first('p1', 1);
  first('p2', 2);
  first('p3', 3);
  assert.equal(a.size, 2, 'at most maxPending');
  assert.equal(a.evicted, 1);
  a.forget('p');
  assert.equal(a.size, 0);
});

test('BoundedMap forgets the oldest; textOf keeps non-UTF-8 bytes', () => {
  const m = new BoundedMap<number, string>(2);
  m.set(1, 'a').set(2, 'b').set(3, 'c');
  assert.deepEqual([...m.keys()], [2, 3]);
  assert.equal(m.evicted, 1);
  m.set(3, 'cc');
  assert.equal(m.size, 2);
  assert.equal(textOf(Buffer.from('héllo ✓')), 'héllo ✓');
  assert.equal(textOf(Buffer.from([0x61, 0xff, 0x62])), 'a\u00ffb');
});
