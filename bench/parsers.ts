/**
 * Protocol parser benchmarks (one core; the parsers are synchronous):
 *  - HTTP/1.1 responses with 1 MiB bodies in 16 KiB chunks (the TLS record size), Content-Length and
 *    chunked, default limits (the whole 1 MiB body is kept and copied once);
 *  - HTTP/2 with many small HEADERS frames, real nghttp2-encoded traffic (node:http2 client and server on
 *    127.0.0.1, recorded once through a TCP relay): 5000 tiny GETs on one connection (~49-byte HEADERS
 *    frames once the HPACK table is warm) answered by HEADERS-only 204s; and 5000 API calls carrying a
 *    bearer token (never indexed by HPACK, so ~600-byte HEADERS frames) answered by small JSON bodies;
 *  - the HTTP/1.1 stream through the whole ConnTracker (ordering, L7 records);
 *  - memory held by 10k idle keep-alive connections in ConnTracker (HTTP/1.1 and HTTP/2), measured with
 *    global.gc when node runs with --expose-gc, else from heap deltas (noisier).
 * Throughput is the best of ten 200 ms windows: the figure of an uncontended core, stable on shared hosts.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { ConnTracker } from '../src/conn/tracker.js';
import type { DataRecord, Direction } from '../src/model/records.js';
import { ConnParser } from '../src/protocols/connection.js';
import { makeLimits, unlimitedBudget } from '../src/protocols/limits.js';
import type { BenchResult } from './types.js';

type Chunks = Array<[Direction, Buffer]>;

function split(b: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 0; o < b.length; o += size) out.push(b.subarray(o, o + size));
  return out;
}

/** n keep-alive exchanges, each a GET and a response with a `bodySize` body, in 16 KiB chunks. */
function http1Stream(n: number, bodySize: number, chunked: boolean): Chunks {
  const body = Buffer.alloc(bodySize, 'abcdefghijklmnopqrstuvwxyz0123456789\n');
  const out: Chunks = [];
  for (let i = 0; i < n; i++) {
    out.push(['write', Buffer.from(`GET /file/${i} HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n`)]);
    let resp: Buffer;
    if (chunked) {
      const parts = split(body, 8192).flatMap((p) => [Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from('\r\n')]);
      resp = Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n'), ...parts, Buffer.from('0\r\n\r\n')]);
    } else {
      resp = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${bodySize}\r\n\r\n`), body]);
    }
    for (const c of split(resp, 16384)) out.push(['read', c]);
  }
  return out;
}

const TOKEN = `Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.${Buffer.from(JSON.stringify({ sub: 'bench-user', scope: 'items:read items:write', iat: 1764000000, exp: 1764003600, aud: 'https://api.bench.test', iss: 'https://auth.bench.test/realms/main' })).toString('base64url')}.${Buffer.alloc(256, 7).toString('base64url')}`;

/**
 * Record a real HTTP/2 exchange of `streams` requests. `api` = false: tiny GETs answered by HEADERS-only
 * 204s; true: GETs with a bearer token answered by a small JSON body.
 */
export async function http2Stream(streams: number, api = false): Promise<Chunks> {
  const server = http2.createServer();
  server.on('stream', (s, h) => {
    if (!api) s.respond({ ':status': 204, 'cache-control': 'no-store', 'x-trace': String(Math.random()).slice(2, 10) }, { endStream: true });
    else {
      s.respond({ ':status': 200, 'content-type': 'application/json', 'x-trace': String(Math.random()).slice(2, 10) });
      s.end(JSON.stringify({ id: h[':path'], ok: true }));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const chunks: Chunks = [];
  const relay = net.createServer((c) => {
    const u = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    c.on('data', (d: Buffer) => (chunks.push(['write', Buffer.from(d)]), u.write(d)));
    u.on('data', (d: Buffer) => (chunks.push(['read', Buffer.from(d)]), c.write(d)));
    c.on('end', () => u.end());
    u.on('end', () => c.end());
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  const client = http2.connect(`http://127.0.0.1:${(relay.address() as net.AddressInfo).port}`);
  const one = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const h: http2.OutgoingHttpHeaders = { ':path': `/api/v1/items/${i}?fields=id,name`, accept: 'application/json', 'user-agent': 'bench/1.0', 'x-request-id': `req-${i}` };
      if (api) h.authorization = TOKEN;
      const r = client.request(h);
      r.on('close', () => resolve());
      r.resume();
      r.end();
    });
  for (let i = 0; i < streams; i += 100) await Promise.all(Array.from({ length: Math.min(100, streams - i) }, (_, k) => one(i + k)));
  await new Promise<void>((r) => client.close(() => r()));
  await new Promise((r) => setTimeout(r, 50));
  relay.close();
  server.close();
  return chunks;
}

/** Best of ten 200 ms windows of calling `fn` (which handles `bytes` bytes): MB/s. */
function bestRate(fn: () => void, bytes: number): number {
  let best = 0;
  for (let w = 0; w < 10; w++) {
    const t0 = process.hrtime.bigint();
    let n = 0;
    let el = 0;
    do {
      fn();
      n++;
      el = Number(process.hrtime.bigint() - t0) / 1e9;
    } while (el < 0.2);
    best = Math.max(best, (bytes * n) / 1e6 / el);
  }
  return best;
}

/** Parse `chunks` through a fresh ConnParser per pass; MB/s. */
function parseRate(chunks: Chunks, expectMessages: number): number {
  const bytes = chunks.reduce((a, [, b]) => a + b.length, 0);
  const limits = makeLimits();
  const once = (): number => {
    const p = new ConnParser<number>({ limits, budget: unlimitedBudget(), timeOf: () => 0n });
    let msgs = 0;
    for (let i = 0; i < chunks.length; i++) {
      const [d, b] = chunks[i]!;
      p.push(d, b, i);
      for (const e of p.drain()) if (e.type === 'message') msgs++;
    }
    p.end();
    for (const e of p.drain()) if (e.type === 'message') msgs++;
    return msgs;
  };
  const got = once(); // warm-up, and a check that the stream parses
  if (got < expectMessages) throw new Error(`bench stream parsed into ${got} messages, expected ${expectMessages}`);
  return bestRate(once, bytes);
}

function record(dir: Direction, seq: number, payload: Buffer, connId: string, ts: bigint): DataRecord {
  return {
    type: 'data', ts, module: 'tls', who: { pid: 4242, tid: 4242, uid: 0, comm: 'bench' }, dir, fd: 7, connId,
    tuple: { family: 4, local: { addr: '10.1.2.3', port: 40000 }, remote: { addr: '10.9.8.7', port: 443 } }, seq, payload,
  };
}

/** Feed `chunks` as one connection's records; returns the tracker's output count. */
function trackChunks(t: ConnTracker, chunks: Chunks, connId: string, ts: bigint): number {
  const seq = { write: 0, read: 0 };
  let n = 0;
  for (const [d, b] of chunks) {
    n += t.push(record(d, seq[d], b, connId, ts)).length;
    seq[d] += b.length;
  }
  return n;
}

function trackerRate(chunks: Chunks): number {
  const bytes = chunks.reduce((a, [, b]) => a + b.length, 0);
  let pass = 0;
  return bestRate(() => {
    const t = new ConnTracker();
    trackChunks(t, chunks, `c${pass++}`, 1n);
    t.flush();
  }, bytes);
}

function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
}

/** Memory of `n` idle connections that each did one exchange (`chunks`). */
function idleMemory(n: number, chunks: Chunks): { total: number; per: number } {
  const t = new ConnTracker({ maxConns: n + 1 });
  const before = heapUsed();
  for (let i = 0; i < n; i++) trackChunks(t, chunks, `idle-${i}`, 1n);
  const after = heapUsed();
  if (t.size !== n) throw new Error(`expected ${n} tracked connections, have ${t.size}`);
  void t.stats();
  return { total: after - before, per: (after - before) / n };
}

const perStream = (c: Chunks, n: number): number => Math.round(c.filter(([d]) => d === 'write').reduce((a, [, b]) => a + b.length, 0) / n);

export async function benchParsers(): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  const h1 = http1Stream(16, 1 << 20, false);
  out.push({ name: 'HTTP/1.1 1 MiB bodies, Content-Length (parser)', value: Math.round(parseRate(h1, 32)), unit: 'MB/s', target: '>= 500 MB/s' });
  const h1c = http1Stream(16, 1 << 20, true);
  out.push({ name: 'HTTP/1.1 1 MiB bodies, chunked (parser)', value: Math.round(parseRate(h1c, 32)), unit: 'MB/s', target: '>= 500 MB/s' });
  const tiny = await http2Stream(5000);
  out.push({ name: `HTTP/2 tiny GETs, ${perStream(tiny, 5000)} B/request, 204 HEADERS-only (parser)`, value: Math.round(parseRate(tiny, 10000)), unit: 'MB/s', target: '>= 150 MB/s' });
  const api = await http2Stream(5000, true);
  out.push({ name: `HTTP/2 API calls with bearer token, ${perStream(api, 5000)} B/request (parser)`, value: Math.round(parseRate(api, 10000)), unit: 'MB/s', target: '>= 150 MB/s' });
  out.push({ name: 'HTTP/2 tiny GETs, streams per second (parser)', value: Math.round((parseRate(tiny, 10000) * 1e6) / tiny.reduce((a, [, b]) => a + b.length, 0) * 5000), unit: 'streams/s' });
  out.push({ name: 'HTTP/1.1 1 MiB bodies through ConnTracker', value: Math.round(trackerRate(h1)), unit: 'MB/s' });
  const gcNote = (globalThis as { gc?: unknown }).gc ? '' : ' (no --expose-gc: approximate)';
  const m1 = idleMemory(10000, http1Stream(1, 512, false));
  out.push({ name: `10k idle HTTP/1.1 connections in ConnTracker${gcNote}`, value: +(m1.total / 1e6).toFixed(1), unit: 'MB' });
  out.push({ name: 'per idle HTTP/1.1 connection', value: Math.round(m1.per), unit: 'bytes' });
  const m2 = idleMemory(10000, await http2Stream(1));
  out.push({ name: `10k idle HTTP/2 connections in ConnTracker${gcNote}`, value: +(m2.total / 1e6).toFixed(1), unit: 'MB' });
  out.push({ name: 'per idle HTTP/2 connection (HPACK tables included)', value: Math.round(m2.per), unit: 'bytes' });
  return out;
}
