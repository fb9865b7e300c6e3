/**
 * One record of every type, for encoder tests and the output benchmark. Not used by the capture path.
 */
import type { CaptureRecord, ConnTuple, Who } from '../../model/records.js';

export const WHO: Who = { pid: 4242, tid: 4243, uid: 1000, comm: 'curl', cgroupId: 12345678901234567890n };
export const TUPLE4: ConnTuple = {
  family: 4,
  local: { addr: '10.0.0.2', port: 51837 },
  remote: { addr: '140.82.112.6', port: 443 },
};
export const TUPLE6: ConnTuple = {
  family: 6,
  local: { addr: '2001:db8::2', port: 40000 },
  remote: { addr: '2001:db8::1', port: 8443 },
};
/** 2026-06-21T10:11:12.123456789Z */
export const TS = 1782036672123456789n;

export const REQUEST = Buffer.from('GET / HTTP/1.1\r\nHost: example.test\r\nUser-Agent: curl/8.5.0\r\n\r\n');

export function sampleRecords(): CaptureRecord[] {
  const base = { ts: TS, who: WHO };
  return [
    { ...base, type: 'data', module: 'tls', dir: 'write', fd: 5, connId: '0x55d0c0ffee00', tuple: TUPLE4, seq: 0,
      payload: REQUEST, lib: 'openssl 3.0.22' },
    { ...base, type: 'data', module: 'tls', dir: 'read', fd: 5, connId: '0x55d0c0ffee00', seq: 0,
      payload: Buffer.from([0x00, 0x01, 0xff, 0x80, 0x0a]) },
    { ...base, type: 'gap', module: 'tls', dir: 'read', fd: 5, connId: '0x55d0c0ffee00', tuple: TUPLE6, seq: 100,
      lostBytes: 4096 },
    { ...base, type: 'conn_close', module: 'gotls', fd: 7, connId: 'c1', tuple: TUPLE4, reason: 'closed',
      bytesRead: 1000, bytesWritten: 200 },
    { ...base, type: 'key', module: 'tls', label: 'CLIENT_RANDOM', clientRandom: Buffer.alloc(32, 0xab),
      secret: Buffer.alloc(48, 0x01), tlsVersion: 0x0303 },
    { ...base, type: 'shell', module: 'bash', shell: 'bash', line: 'echo "héllo"\tworld', retval: 0 },
    { ...base, type: 'query', module: 'mysqld', db: 'mysqld', query: 'SELECT 1', length: 8, retval: 0,
      kind: 'simple' },
    { ...base, type: 'l7', module: 'tls', dir: 'write', fd: 5, connId: '0x55d0c0ffee00', tuple: TUPLE4,
      msg: { protocol: 'http1', kind: 'request', method: 'GET', target: '/', version: 'HTTP/1.1',
        headers: [['Host', 'example.test']], body: Buffer.alloc(0), bodySize: 0 } },
    { ...base, type: 'l7', module: 'tls', dir: 'read', fd: 5, connId: '0x55d0c0ffee00', tuple: TUPLE6,
      msg: { protocol: 'http2', kind: 'response', streamId: 1, status: 200, version: 'HTTP/2',
        headers: [[':status', '200']], body: Buffer.from([0x1f, 0x8b, 0x08]), bodySize: 3, latencyNs: 1500000 } },
    { ...base, type: 'notice', module: 'tls', level: 'warn', message: 'ring buffer full: 3 events lost' },
  ];
}

/** A typical data event with a payload of `size` printable bytes (benchmark input). */
export function dataRecord(i: number, size = 512): CaptureRecord {
  const payload = Buffer.alloc(size, 0x61);
  payload.write(`GET /item/${i} HTTP/1.1\r\n`);
  return { ts: TS + BigInt(i), who: WHO, type: 'data', module: 'tls', dir: 'write', fd: 5, connId: '0x1', tuple: TUPLE4,
    seq: i * size, payload };
}
