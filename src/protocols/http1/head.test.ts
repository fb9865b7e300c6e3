/**
 * parseHead against a reference written the plain way (split into lines, the REQUEST_LINE / STATUS_LINE regular
 * expressions, parseHeaderLines): the hand-written scanning must give the same heads and the same errors.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { OwnHeaderList } from '../types.js';
import { parseHead, parseHeaderLines, parseTrailers, REQUEST_LINE, STATUS_LINE, type Http1Head } from './head.js';

/** The lines of a block: split at LF, one trailing CR removed, trailing empty lines dropped. */
function refLines(text: string): string[] {
  const ls = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  while (ls.length > 0 && ls[ls.length - 1] === '') ls.pop();
  return ls;
}

function refHead(buf: Buffer, kind: 'request' | 'response', max: number): Http1Head | string {
  const ls = refLines(buf.toString('latin1'));
  if (ls.length === 0) return 'empty message head';
  const first = ls[0]!;
  const headers: OwnHeaderList = [];
  let head: Http1Head;
  if (kind === 'request') {
    const m = REQUEST_LINE.exec(first);
    if (!m) return `invalid request line ${JSON.stringify(first.slice(0, 60))}`;
    head = { kind, method: m[1]!, target: m[2]!, version: m[3]!, headers };
  } else {
    const m = STATUS_LINE.exec(first);
    if (!m) return `invalid status line ${JSON.stringify(first.slice(0, 60))}`;
    head = { kind, version: m[1]!, status: Number(m[2]), reason: m[3] ?? '', headers };
  }
  return parseHeaderLines(ls, 1, max, headers) ?? head;
}

/** Strings made of pieces that matter to start lines and header lines. */
const piece = fc.constantFrom(
  'GET', 'POST', 'M-SEARCH', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1', 'HTTP/x.1', 'HTTP/1.1 ', '200', '404', '20', '2000', 'OK', ' ', '  ', '\t',
  '\r', '\n', '\r\n', ':', ': ', 'Host', 'Content-Length', 'a', '/x', '/\xe9', '\xa0', '\x00', '"', '(', '@', 'é', '0', 'ok\r',
);
const text = fc.array(piece, { maxLength: 24 }).map((a) => a.join(''));

function same(buf: Buffer): void {
  for (const kind of ['request', 'response'] as const) {
    for (const max of [256, 2]) assert.deepStrictEqual(parseHead(buf, kind, max), refHead(buf, kind, max), JSON.stringify(buf.toString('latin1')));
  }
}

describe('parseHead', () => {
  it('parses usual heads', () => {
    assert.deepStrictEqual(parseHead(Buffer.from('GET /a?b HTTP/1.1\r\nHost: h\r\nX:  v \r\n\r\n'), 'request', 256), {
      kind: 'request', method: 'GET', target: '/a?b', version: 'HTTP/1.1', headers: [['Host', 'h'], ['X', 'v']],
    });
    assert.deepStrictEqual(parseHead(Buffer.from('HTTP/1.0 404 Not Found\nA: b\n  c\n\n'), 'response', 256), {
      kind: 'response', version: 'HTTP/1.0', status: 404, reason: 'Not Found', headers: [['A', 'b c']],
    });
  });

  it('gives what the regular expressions and split lines give, on start lines', () => {
    const lines = [
      'GET / HTTP/1.1', 'GET  HTTP/1.1', 'GET /  HTTP/1.1', ' GET / HTTP/1.1', 'GET / HTTP/1.1 ', 'GET / HTTP/1.10', 'GET / HTTP/11', 'GET /\r HTTP/1.1',
      'G\xe9T / HTTP/1.1', 'GET /\xe9\t HTTP/2.0', 'GET / http/1.1', 'GET\t/ HTTP/1.1', 'GET /a b HTTP/1.1', 'GET / HTTP/1.1\r', '/ HTTP/1.1',
      'HTTP/1.1 200 OK', 'HTTP/1.1 200', 'HTTP/1.1 200 ', 'HTTP/1.1 200  ', 'HTTP/1.1 2000', 'HTTP/1.1 20', 'HTTP/1.1 200 O\rK', 'HTTP/1.1 200 OK\r',
      'HTTP/1.1  200 OK', 'HTTP/1.1 200\tOK', 'HTTP/1.1 2x0 OK', 'HTTP/1.x 200 OK', 'HTTP/9.9 999 caf\xe9', 'HTTP/1.1 200 OKAY', '', '\r',
    ];
    for (const l of lines) same(Buffer.from(`${l}\r\nA: b\r\n\r\n`, 'latin1'));
    fc.assert(fc.property(text, (s) => same(Buffer.from(`${s}\r\nA: b\r\n\r\n`, 'latin1'))), { numRuns: 3000 });
  });

  it('gives what the regular expressions and split lines give, on whole blocks', () => {
    const starts = fc.constantFrom('GET / HTTP/1.1', 'HTTP/1.1 200 OK', 'HTTP/1.1 200', 'PUT /x HTTP/1.0');
    fc.assert(fc.property(starts, fc.constantFrom('\r\n', '\n'), text, (st, eol, rest) => same(Buffer.from(`${st}${eol}${rest}`, 'latin1'))), { numRuns: 3000 });
    for (const tail of ['', '\n', '\r', '\r\n', '\n\n', '\r\n\r\n', '\n\r\n', '\r\n\n', '\n\r', '\r\r\n', 'x\r', '\r\n\r']) {
      for (const st of ['', 'GET / HTTP/1.1', 'HTTP/1.1 200 OK']) {
        same(Buffer.from(`${st}${tail}`, 'latin1'));
        same(Buffer.from(`${st}\r\nA: b${tail}`, 'latin1'));
      }
    }
  });

  it('parses a range of a buffer as the same bytes on their own', () => {
    const head = 'HTTP/1.1 200 OK\r\nA: b\r\n\r\n';
    const buf = Buffer.from(`xyz${head}GET / HTTP/1.1\r\n`, 'latin1');
    assert.deepStrictEqual(parseHead(buf, 'response', 256, 3, 3 + head.length), parseHead(Buffer.from(head, 'latin1'), 'response', 256));
    assert.equal(parseHead(buf, 'response', 256, 3, 3), 'empty message head');
    assert.throws(() => parseHead(buf, 'response', 256, 3, buf.length + 1), RangeError);
    assert.throws(() => parseHead(buf, 'response', 256, 4, 3), RangeError);
  });

  it('parses trailers as header lines', () => {
    assert.deepStrictEqual(parseTrailers(Buffer.from('X-Sum: 9\r\nX-More: a\r\n\r\n'), 256), [['X-Sum', '9'], ['X-More', 'a']]);
    assert.deepStrictEqual(parseTrailers(Buffer.from('\r\n'), 256), []);
    fc.assert(
      fc.property(text, (s) => {
        const out: OwnHeaderList = [];
        const ref = parseHeaderLines(refLines(s), 0, 256, out) ?? out;
        assert.deepStrictEqual(parseTrailers(Buffer.from(s, 'latin1'), 256), ref);
      }),
      { numRuns: 2000 },
    );
  });
});
