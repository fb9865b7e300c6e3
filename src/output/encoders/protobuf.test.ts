import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { ProtobufEncoder, encodeLogEntry, eventUuid, heartbeatEntry, runLogEntry } from './protobuf.js';
import { descriptor } from '../../gen/proto/ecaptureq.js';
import { TUPLE4, TUPLE6, sampleRecords } from './sample-records.js';
import type { CaptureRecord } from '../../model/records.js';

// An independent decoder: protobufjs's .proto parser over the schema text, not the generated descriptor.
const root = fileURLToPath(new URL('../../../../', import.meta.url));
const protoText = readFileSync(`${root}proto/ecaptureq.proto`, 'utf8');
const parsed = protobuf.parse(protoText, { keepCase: true }).root;
const LogEntry = parsed.lookupType('event.LogEntry');
const asObj = (m: protobuf.Message) =>
  LogEntry.toObject(m, { longs: String, enums: Number, bytes: Buffer, defaults: true, oneofs: true }) as Record<string, any>;

const textOf = (r: CaptureRecord) => Buffer.from(`TEXT:${r.type}:${r.who.pid}`);

test('stream framing: length-delimited LogEntry{EVENT, Event} with every field filled', () => {
  const enc = new ProtobufEncoder(textOf);
  const recs = sampleRecords();
  const stream = Buffer.concat(recs.map((r) => enc.encode(r)));
  const reader = protobuf.Reader.create(stream);
  const got: Array<Record<string, any>> = [];
  while (reader.pos < reader.len) got.push(asObj(LogEntry.decodeDelimited(reader)));
  assert.equal(got.length, recs.length);
  for (const [i, e] of got.entries()) {
    const r = recs[i]!;
    assert.equal(e.log_type, 2);
    assert.equal(e.payload, 'event_payload');
    const ev = e.event_payload;
    assert.equal(ev.timestamp, '1782036672'); // Unix seconds
    assert.equal(ev.pid, '4242');
    assert.equal(ev.pname, 'curl');
    assert.equal(ev.uuid, eventUuid(r));
    assert.deepEqual(ev.payload, textOf(r));
    assert.equal(ev.length, textOf(r).length);
  }
  const ev = (i: number) => got[i]!.event_payload;
  // data write over IPv4: src = local
  assert.deepEqual([ev(0).src_ip, ev(0).src_port, ev(0).dst_ip, ev(0).dst_port], ['10.0.0.2', 51837, '140.82.112.6', 443]);
  assert.equal(ev(0).uuid, '4242_4243_curl_5_1_10.0.0.2:51837-140.82.112.6:443');
  assert.equal(ev(0).type, 0);
  // no tuple: empty strings / zero (proto3 defaults)
  assert.deepEqual([ev(1).src_ip, ev(1).src_port, ev(1).dst_ip, ev(1).dst_port], ['', 0, '', 0]);
  assert.equal(ev(1).uuid, '4242_4243_curl_5_0_');
  // read over IPv6: src = remote
  assert.deepEqual([ev(2).src_ip, ev(2).src_port, ev(2).dst_ip], [TUPLE6.remote.addr, TUPLE6.remote.port, TUPLE6.local.addr]);
  assert.equal(ev(2).uuid, '4242_4243_curl_5_0_[2001:db8::1]:8443-[2001:db8::2]:40000');
  assert.equal(ev(4).uuid, '4242_4243_curl_key');
  // L7 types per eCapture's ParserType
  assert.equal(ev(7).type, 1); // HTTP/1 request
  assert.equal(ev(8).type, 4); // HTTP/2 response
  assert.equal(ev(3).src_ip, TUPLE4.local.addr);
});

test('Event.type mapping covers all five eCapture values', () => {
  const enc = new ProtobufEncoder(textOf, { framing: 'message' });
  const l7 = sampleRecords()[7] as Extract<CaptureRecord, { type: 'l7' }>;
  const cases: Array<[string, string, number]> = [
    ['http1', 'request', 1], ['http2', 'request', 2], ['http1', 'response', 3], ['http2', 'response', 4],
    ['websocket', 'message', 5], ['websocket', 'control', 5], ['http2', 'control', 0], ['raw', 'data', 0],
  ];
  for (const [protocol, kind, want] of cases) {
    const rec = { ...l7, msg: { ...l7.msg, protocol, kind } } as unknown as CaptureRecord;
    const e = asObj(LogEntry.decode(enc.encode(rec)));
    assert.equal(e.event_payload.type, want, `${protocol} ${kind}`);
  }
});

test('heartbeat and run-log entries', () => {
  const hb = asObj(LogEntry.decode(encodeLogEntry(heartbeatEntry(3, 1_782_036_672_999))));
  assert.equal(hb.log_type, 0);
  assert.equal(hb.payload, 'heartbeat_payload');
  assert.deepEqual(hb.heartbeat_payload, { timestamp: '1782036672', count: '3', message: 'heartbeat:3' });
  const hb0 = asObj(LogEntry.decode(encodeLogEntry(heartbeatEntry(0))));
  assert.equal(hb0.payload, 'heartbeat_payload'); // an all-default heartbeat is still present
  assert.equal(hb0.heartbeat_payload.message, 'heartbeat:0');
  const log = asObj(LogEntry.decode(encodeLogEntry(runLogEntry('2026-06-21T10:11:12Z INF started'))));
  assert.deepEqual([log.log_type, log.payload, log.run_log], [1, 'run_log', '2026-06-21T10:11:12Z INF started']);
});

test('field numbers on the wire are eCapture\'s', () => {
  const buf = new ProtobufEncoder(textOf, { framing: 'message' }).encode(sampleRecords()[0]!);
  const outer = protobuf.Reader.create(buf);
  const tags: number[] = [];
  let inner: Uint8Array | undefined;
  while (outer.pos < outer.len) {
    const t = outer.uint32();
    tags.push(t >>> 3);
    if (t >>> 3 === 2) inner = outer.bytes();
    else outer.skipType(t & 7);
  }
  assert.deepEqual(tags, [1, 2]);
  const r = protobuf.Reader.create(inner!);
  const fields: number[] = [];
  while (r.pos < r.len) {
    const t = r.uint32();
    fields.push(t >>> 3);
    r.skipType(t & 7);
  }
  assert.deepEqual(fields, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
});

test('generated descriptor matches proto/ecaptureq.proto (run scripts/gen-proto.sh after editing it)', () => {
  const fromText = protobuf.parse(protoText).root.toJSON();
  assert.deepEqual(JSON.parse(JSON.stringify(descriptor)), JSON.parse(JSON.stringify(fromText)));
});
