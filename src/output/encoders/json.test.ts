import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { JsonEncoder, bytesToJson, isoNanos, recordToJson } from './json.js';
import { REQUEST, TS, TUPLE4, TUPLE6, WHO, sampleRecords } from './sample-records.js';
import type { CaptureRecord } from '../../model/records.js';

const COMMON = ['type', 'ts', 'time', 'module', 'pid', 'tid', 'uid', 'comm', 'cgroup_id'];
const CONN = ['fd', 'conn_id', 'family', 'src_ip', 'src_port', 'dst_ip', 'dst_port'];
/** The documented key set of each record type, in order (docs/json-format.md). */
const KEYS: Record<CaptureRecord['type'], string[]> = {
  data: [...COMMON, 'dir', ...CONN, 'seq', 'len', 'payload', 'payload_encoding', 'lib'],
  gap: [...COMMON, 'dir', ...CONN, 'seq', 'lost_bytes'],
  conn_close: [...COMMON, ...CONN, 'reason', 'bytes_read', 'bytes_written'],
  key: [...COMMON, 'label', 'client_random', 'secret', 'tls_version'],
  shell: [...COMMON, 'shell', 'line', 'retval', 'tty', 'cwd', 'truncated'],
  query: [...COMMON, 'db', 'query', 'length', 'status', 'retval', 'database', 'client', 'kind', 'truncated'],
  l7: [...COMMON, 'dir', ...CONN, 'msg'],
  notice: [...COMMON, 'level', 'message'],
};

function parseLines(text: string): Array<Record<string, unknown>> {
  assert.ok(text.endsWith('\n'));
  return text.slice(0, -1).split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('one line per record, parsed back: fixed key set per type, typed values', () => {
  const enc = new JsonEncoder();
  const recs = sampleRecords();
  const out = recs.map((r) => enc.encode(r)).join('');
  const objs = parseLines(out);
  assert.equal(objs.length, recs.length);
  for (const [i, o] of objs.entries()) {
    const r = recs[i]!;
    assert.deepEqual(Object.keys(o), KEYS[r.type], `keys of ${r.type}`);
    assert.equal(o.type, r.type);
    assert.equal(o.ts, '1782036672123456789');
    assert.equal(o.time, '2026-06-21T10:11:12.123456789Z');
    assert.equal(o.module, r.module);
    assert.equal(o.pid, 4242);
    assert.equal(o.tid, 4243);
    assert.equal(o.uid, 1000);
    assert.equal(o.comm, 'curl');
    assert.equal(o.cgroup_id, '12345678901234567890');
  }
  const [data, bin, gap, close, key, shell, query, req, resp, notice] = objs as Array<Record<string, unknown>>;
  assert.deepEqual(
    [data!.dir, data!.fd, data!.conn_id, data!.family, data!.src_ip, data!.src_port, data!.dst_ip, data!.dst_port],
    ['write', 5, '0x55d0c0ffee00', 4, '10.0.0.2', 51837, '140.82.112.6', 443],
  );
  assert.deepEqual([data!.seq, data!.len, data!.payload_encoding, data!.lib], [0, REQUEST.length, 'utf8', 'openssl 3.0.22']);
  assert.equal(data!.payload, REQUEST.toString());
  // no tuple → nulls; binary payload → base64
  assert.deepEqual([bin!.family, bin!.src_ip, bin!.src_port, bin!.dst_ip, bin!.dst_port], [null, null, null, null, null]);
  assert.equal(bin!.payload_encoding, 'base64');
  assert.deepEqual(Buffer.from(bin!.payload as string, 'base64'), Buffer.from([0x00, 0x01, 0xff, 0x80, 0x0a]));
  assert.equal(bin!.lib, null);
  // a read: src is the remote end
  assert.deepEqual([gap!.src_ip, gap!.src_port, gap!.dst_ip, gap!.dst_port, gap!.family],
    [TUPLE6.remote.addr, TUPLE6.remote.port, TUPLE6.local.addr, TUPLE6.local.port, 6]);
  assert.deepEqual([gap!.seq, gap!.lost_bytes], [100, 4096]);
  assert.deepEqual([close!.src_ip, close!.dst_ip, close!.reason, close!.bytes_read, close!.bytes_written],
    [TUPLE4.local.addr, TUPLE4.remote.addr, 'closed', 1000, 200]);
  assert.deepEqual([key!.label, key!.client_random, key!.secret, key!.tls_version],
    ['CLIENT_RANDOM', 'ab'.repeat(32), '01'.repeat(48), 0x0303]);
  assert.deepEqual([shell!.shell, shell!.line, shell!.retval, shell!.tty, shell!.cwd],
    ['bash', 'echo "héllo"\tworld', 0, null, null]);
  assert.deepEqual([query!.db, query!.query, query!.length, query!.status, query!.retval, query!.kind],
    ['mysqld', 'SELECT 1', 8, null, 0, 'simple']);
  assert.deepEqual(req!.msg, { protocol: 'http1', kind: 'request', method: 'GET', target: '/', version: 'HTTP/1.1',
    headers: [['Host', 'example.test']], body: '', body_encoding: 'utf8', body_size: 0 });
  assert.deepEqual(resp!.msg, { protocol: 'http2', kind: 'response', stream_id: 1, status: 200, version: 'HTTP/2',
    headers: [[':status', '200']], body: Buffer.from([0x1f, 0x8b, 0x08]).toString('base64'), body_encoding: 'base64',
    body_size: 3, latency_ns: 1500000 });
  assert.deepEqual([notice!.level, notice!.message], ['warn', 'ring buffer full: 3 events lost']);
});

test('message framing has no newline; values never contain raw newlines', () => {
  const enc = new JsonEncoder({ framing: 'message' });
  const s = enc.encode(sampleRecords()[0]!);
  assert.ok(!s.includes('\n'));
  assert.equal(JSON.parse(s).type, 'data');
});

test('bytesToJson: printable UTF-8 as text, control bytes or invalid UTF-8 as base64', () => {
  assert.deepEqual(bytesToJson(Buffer.from('a\tb\r\nc é 日本')), { data: 'a\tb\r\nc é 日本', encoding: 'utf8' });
  assert.equal(bytesToJson(Buffer.from([0x61, 0x00])).encoding, 'base64');
  assert.equal(bytesToJson(Buffer.from([0x61, 0x1b, 0x5b])).encoding, 'base64'); // ESC
  assert.equal(bytesToJson(Buffer.from([0xc3])).encoding, 'base64'); // truncated UTF-8
  assert.deepEqual(bytesToJson(Buffer.alloc(0)), { data: '', encoding: 'utf8' });
});

test('isoNanos keeps all nine digits', () => {
  assert.equal(isoNanos(TS), '2026-06-21T10:11:12.123456789Z');
  assert.equal(isoNanos(1_000_000_000n), '1970-01-01T00:00:01.000000000Z');
  assert.equal(isoNanos(7n), '1970-01-01T00:00:00.000000007Z');
});

test('ts survives beyond 2^53 exactly', () => {
  const big = 9_007_199_254_740_993_123n;
  const o = recordToJson({ ts: big, who: WHO, type: 'notice', module: 'tls', level: 'info', message: 'x' });
  assert.equal(BigInt(o.ts as string), big);
});

test('docs/json-format.md documents every key of every type', () => {
  const root = fileURLToPath(new URL('../../../../', import.meta.url));
  const doc = readFileSync(`${root}docs/json-format.md`, 'utf8');
  for (const [type, keys] of Object.entries(KEYS)) {
    assert.ok(doc.includes(`\`${type}\``), `type ${type} documented`);
    for (const k of keys) assert.ok(doc.includes(`\`${k}\``), `key ${k} documented`);
  }
});
