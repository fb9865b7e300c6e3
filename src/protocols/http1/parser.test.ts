import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as zlib from 'node:zlib';
import { ConnParser, type ConnEvent } from '../connection.js';
import { makeLimits, MemBudget, unlimitedBudget, type Limits } from '../limits.js';
import type { HttpMessage, L7Message } from '../types.js';

type Step = ['w' | 'r', string | Buffer] | ['gap-w' | 'gap-r', number];

function run(steps: Step[], limits: Partial<Limits> = {}, budget = unlimitedBudget()): { msgs: L7Message[]; events: Array<ConnEvent<number>> } {
  const p = new ConnParser<number>({ limits: makeLimits(limits), budget, timeOf: (t) => BigInt(t) * 1000n });
  const events: Array<ConnEvent<number>> = [];
  steps.forEach(([k, v], i) => {
    if (k === 'gap-w' || k === 'gap-r') p.gap(k === 'gap-w' ? 'write' : 'read', v as number, i);
    else p.push(k === 'w' ? 'write' : 'read', typeof v === 'string' ? Buffer.from(v, 'latin1') : (v as Buffer), i);
    events.push(...p.drain());
  });
  p.end();
  events.push(...p.drain());
  return { msgs: events.flatMap((e) => (e.type === 'message' ? [e.msg] : [])), events };
}

const http = (m: L7Message[]): HttpMessage[] => m.filter((x): x is HttpMessage => x.protocol === 'http1');

describe('HTTP/1 parser', () => {
  it('chunked bodies with extensions, LF-only lines and trailers', () => {
    const { msgs } = run([
      ['w', 'POST /u HTTP/1.1\nTransfer-Encoding: chunked\n\n4;name=v\nWiki\n5\r\npedia\r\n0\r\nX-Sum: 9\r\nX-More: a\r\n\r\n'],
      ['r', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'],
    ]);
    const [req, resp] = http(msgs);
    assert.equal(req!.body.toString(), 'Wikipedia');
    assert.deepEqual(req!.trailers, [['X-Sum', '9'], ['X-More', 'a']]);
    assert.equal(resp!.body.toString(), 'ok');
    assert.deepEqual(resp!.request, { method: 'POST', target: '/u' });
  });

  it('frames responses by the request method and status (HEAD, 204, 304, 1xx)', () => {
    const { msgs } = run([
      ['w', 'HEAD /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\nPUT /d HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc'],
      ['r', 'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n'],
      ['r', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n'],
    ]);
    const rs = http(msgs).filter((m) => m.kind === 'response');
    assert.deepEqual(rs.map((m) => [m.status, m.body.length, m.request?.target]), [[200, 0, '/a'], [204, 0, '/b'], [304, 0, '/c'], [100, 0, '/d'], [201, 0, '/d']]);
  });

  it('reads a body until close when there is no length, and marks a cut body incomplete', () => {
    const a = run([['w', 'GET / HTTP/1.0\r\n\r\n'], ['r', 'HTTP/1.0 200 OK\r\n\r\nall of '], ['r', 'it']]);
    const resp = http(a.msgs)[1]!;
    assert.equal(resp.body.toString(), 'all of it');
    assert.equal(resp.incomplete, undefined);
    const b = run([['w', 'POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly ten..']]);
    assert.deepEqual([http(b.msgs)[0]!.incomplete, http(b.msgs)[0]!.bodySize], ['closed', 10]);
  });

  it('falls back to raw on conflicting Content-Length, oversized heads and garbage', () => {
    for (const [steps, limits] of [
      [[['w', 'GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n']], {}],
      [[['w', `GET / HTTP/1.1\r\nX: ${'a'.repeat(3000)}\r\n\r\n`]], { maxHeaderBytes: 1024 }],
      [[['w', 'GET / HTTP/1.1\r\n\r\n'], ['r', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n']], {}],
    ] as Array<[Step[], Partial<Limits>]>) {
      const { events } = run(steps, limits);
      assert.ok(events.some((e) => e.type === 'error'), JSON.stringify(steps).slice(0, 60));
      assert.ok(events.some((e) => e.type === 'raw'));
    }
  });

  it('keeps at most maxBodyBytes and the budget allows, counting the rest', () => {
    const body = 'x'.repeat(5000);
    const { msgs } = run([['r', `HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n${body}`]], { maxBodyBytes: 1000 });
    const m = http(msgs)[0]!;
    assert.deepEqual([m.body.length, m.bodySize, m.bodyTruncated], [1000, 5000, 4000]);
    const budget = new MemBudget(300);
    const m2 = http(run([['r', `HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n${body}`]], {}, budget).msgs)[0]!;
    assert.deepEqual([m2.body.length, m2.bodyTruncated, budget.used], [300, 4700, 0]);
    assert.ok(budget.hits > 0);
  });

  it('decodes gzip bodies, shows a decoded prefix of truncated ones, and stops decompression bombs', () => {
    const text = Buffer.from('abcdefghij'.repeat(3000));
    const gz = zlib.gzipSync(text);
    const ok = http(run([['r', Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${gz.length}\r\n\r\n`), gz])]]).msgs)[0]!;
    assert.deepEqual([ok.decoded, ok.body.equals(text)], [true, true]);
    const big = zlib.gzipSync(Buffer.from(Array.from({ length: 20000 }, (_, i) => `line ${i}\n`).join('')));
    const cut = http(run([['r', Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${big.length}\r\n\r\n`), big])]], { maxBodyBytes: big.length >> 1 }).msgs)[0]!;
    assert.ok(cut.decoded && cut.body.toString().startsWith('line 0\nline 1\n'));
    assert.match(cut.notes?.[0] ?? '', /incomplete/);
    const bomb = zlib.gzipSync(Buffer.alloc(50 * 1024 * 1024));
    const b = http(run([['r', Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${bomb.length}\r\n\r\n`), bomb])]], { maxDecodedBytes: 1 << 20 }).msgs)[0]!;
    assert.ok(b.body.length <= 1 << 20);
    assert.match(b.notes?.[0] ?? '', /exceeds/);
  });

  it('counts a gap inside a Content-Length body and goes on with the next message', () => {
    const { msgs } = run([
      ['r', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'],
      ['gap-r', 4],
      ['r', 'xyzHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'],
    ]);
    const [a, b] = http(msgs);
    assert.deepEqual([a!.body.toString(), a!.bodyLost, a!.bodySize, b!.status], ['abcxyz', 4, 10, 404]);
  });

  it('resyncs on the next start line after a gap in a head', () => {
    const { msgs } = run([
      ['w', 'GET /one HTTP/1.1\r\nHo'],
      ['gap-w', 30],
      ['w', 'st: x\r\n\r\nGET /two HTTP/1.1\r\nHost: y\r\n\r\n'],
    ]);
    assert.deepEqual(http(msgs).map((m) => m.target), ['/two']);
  });

  it('follows an Upgrade to WebSocket, even with frames in the 101 chunk', () => {
    const mask = [1, 2, 3, 4];
    const hi = Buffer.from('hi').map((c, i) => c ^ mask[i % 4]!);
    const { msgs } = run([
      ['w', 'GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'],
      ['r', Buffer.concat([Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'), Buffer.from([0x81, 0x03]), Buffer.from('hey')])],
      ['w', Buffer.concat([Buffer.from([0x81, 0x82, ...mask]), hi])],
    ]);
    assert.deepEqual(msgs.map((m) => (m.protocol === 'websocket' ? `ws:${m.payload}` : `${m.protocol}:${m.kind}`)), ['http1:request', 'http1:response', 'ws:hey', 'ws:hi']);
  });

  it('goes on with HTTP/1 when the upgrade is refused, and tunnels after CONNECT', () => {
    const refused = run([
      ['w', 'GET /ws HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\nGET /next HTTP/1.1\r\n\r\n'],
      ['r', 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'],
    ]);
    assert.deepEqual(http(refused.msgs).map((m) => m.target ?? m.status), ['/ws', 400, '/next', 200]);
    const tunnel = run([['w', 'CONNECT h:443 HTTP/1.1\r\n\r\n'], ['r', 'HTTP/1.1 200 Connection established\r\n\r\n'], ['w', Buffer.from([0x16, 3, 1, 0, 5])]]);
    assert.deepEqual(tunnel.msgs.map((m) => m.protocol), ['http1', 'http1', 'raw']);
  });

  it('pairs pipelined responses with their requests and measures latency (request end → response start)', () => {
    const { msgs } = run([['w', 'GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n'], ['w', ''], ['r', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'], ['r', 'HTTP/1.1 201 OK\r\nContent-Length: 0\r\n\r\n']]);
    const rs = http(msgs).filter((m) => m.kind === 'response');
    assert.deepEqual(rs.map((m) => [m.request?.target, m.latencyNs]), [['/a', 2000], ['/b', 3000]]);
  });
});
