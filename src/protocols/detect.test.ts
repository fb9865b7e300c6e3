import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detect, H2_PREFACE } from './detect.js';

const d = (s: string | Buffer, final = false): unknown => {
  const r = detect(typeof s === 'string' ? Buffer.from(s, 'latin1') : s, final);
  return r === 'more' ? 'more' : r.protocol === 'http1' ? `http1-${r.side}` : r.protocol === 'http2' ? `http2${r.preface ? '-preface' : ''}` : r.protocol;
};
const hdr = (len: number, type: number, flags: number, sid: number): Buffer => {
  const b = Buffer.alloc(9);
  b.writeUIntBE(len, 0, 3);
  b[3] = type;
  b[4] = flags;
  b.writeUInt32BE(sid, 5);
  return b;
};

describe('protocol detection', () => {
  it('recognises HTTP/1 requests and responses, waiting for enough bytes', () => {
    assert.equal(d('GET / HTTP/1.1\r\n'), 'http1-request');
    assert.equal(d('PROPFIND /x HTTP/1.1'), 'http1-request');
    assert.equal(d('HTTP/1.1 200 OK\r\n'), 'http1-response');
    assert.equal(d('GE'), 'more');
    assert.equal(d('HTTP/1.'), 'more');
    assert.equal(d('GE', true), 'unknown');
    assert.equal(d('GETX / HTTP/1.1'), 'unknown');
    assert.equal(d('get / HTTP/1.1'), 'unknown');
  });

  it('recognises HTTP/2 by preface, by a SETTINGS frame, or by two valid frames', () => {
    assert.equal(d(H2_PREFACE), 'http2-preface');
    assert.equal(d(H2_PREFACE.subarray(0, 10)), 'more');
    assert.equal(d(Buffer.concat([hdr(6, 4, 0, 0), Buffer.alloc(6)])), 'http2');
    const headers = Buffer.concat([hdr(3, 1, 0x05, 1), Buffer.from([0x82, 0x86, 0x84])]);
    assert.equal(d(headers), 'more');
    assert.equal(d(Buffer.concat([headers, hdr(4, 8, 0, 0), Buffer.alloc(4)])), 'http2');
    assert.equal(d(Buffer.concat([headers, Buffer.from('garbage!!')])), 'unknown');
    assert.equal(d(hdr(7, 4, 0, 0)), 'unknown', 'SETTINGS length must be a multiple of 6');
    assert.equal(d(hdr(0, 4, 0, 3)), 'unknown', 'SETTINGS must be on stream 0');
  });

  it('says TLS for TLS records and unknown for other protocols (no MySQL-as-HTTP/2)', () => {
    assert.equal(d(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])), 'tls');
    const mysqlGreeting = Buffer.from('4a0000000a382e302e3335000d000000', 'hex');
    assert.equal(d(mysqlGreeting, true), 'unknown');
    assert.equal(d(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n')), 'unknown');
  });
});
