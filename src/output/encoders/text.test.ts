import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DataRecord } from '../../model/records.js';
import { encodeText, renderPayload } from './text.js';

const flat = (e: ReturnType<typeof encodeText>): Buffer =>
  Buffer.concat((Array.isArray(e) ? e : [e]).map((x) => (typeof x === 'string' ? Buffer.from(x) : x)));

function rec(payload: Buffer, over: Partial<DataRecord> = {}): DataRecord {
  return {
    type: 'data', ts: 1_764_116_392_123_000_000n, module: 'tls', who: { pid: 10, tid: 11, uid: 0, comm: 'curl' },
    dir: 'write', fd: 5, connId: 'abc', seq: 0, payload,
    tuple: { family: 4, local: { addr: '127.0.0.1', port: 50000 }, remote: { addr: '127.0.0.1', port: 443 } },
    ...over,
  };
}

test('header says who, where and how much; payload is byte-exact', () => {
  const p = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  const out = flat(encodeText(rec(p))).toString('latin1');
  const [head] = out.split('\n');
  assert.match(head!, /PID:10 TID:11 Comm:curl UID:0 FD:5 127\.0\.0\.1:50000 -> 127\.0\.0\.1:443 WRITE 27 bytes$/);
  assert.equal(out.slice(head!.length + 1), `${p.toString('latin1')}\n`);
  const rd = flat(encodeText(rec(p, { dir: 'read' }))).toString('latin1');
  assert.match(rd, /127\.0\.0\.1:443 -> 127\.0\.0\.1:50000 READ/, 'reads flow remote → local');
});

test('IPv6 endpoints are bracketed; unknown tuples say so', () => {
  const v6 = rec(Buffer.from('x'), { tuple: { family: 6, local: { addr: '::1', port: 1 }, remote: { addr: '::1', port: 2 } } });
  assert.match(flat(encodeText(v6)).toString(), /\[::1\]:1 -> \[::1\]:2/);
  const none = rec(Buffer.from('x'));
  delete none.tuple;
  assert.match(flat(encodeText(none)).toString(), /\?:\? -> \?:\?/);
});

test('binary payloads become a hex dump; --hex forces it; --tsize limits printing', () => {
  const bin = Buffer.from([0, 1, 2, 3, 0xff, 0x16, 0x03, 0x01]);
  assert.match(flat(encodeText(rec(bin))).toString(), /00000000  00 01 02 03 ff 16 03 01/);
  assert.match(flat(encodeText(rec(Buffer.from('hello')), { hex: true })).toString(), /68 65 6c 6c 6f .*\|hello\|/);
  const out = flat(encodeText(rec(Buffer.from('abcdefghij')), { tsize: 4 })).toString();
  assert.match(out, /WRITE 10 bytes\nabcd\n\.\.\. 6 more bytes not printed/);
});

test('on a terminal control bytes are escaped; in files they are kept', () => {
  const p = Buffer.from('ok\x1b[2Jbye\r\n');
  assert.equal(renderPayload(p, { tty: true }).toString(), 'ok\\x1b[2Jbye\r\n');
  assert.deepEqual(renderPayload(p, {}), p);
});
