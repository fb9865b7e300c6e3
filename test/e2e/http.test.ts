/**
 * Protocol-aware output end to end (issue 3): nginx (HTTPS, http2, gzip) and node servers on 127.0.0.1,
 * curl and node clients; the capture's JSON lines are checked for decoded HTTP/1 and HTTP/2 messages.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  canRunBpf, cleanup, freePort, makeCert, needPrograms, run, sleep, startCapture, startProcess, tempDir, waitFor, type Proc,
} from './harness.js';

let dir = '';
let ngPort = 0;
let nodePort = 0;
let nginx: ChildProcess | undefined;
let nodeSrv: Proc | undefined;
let text = '';

const listening = (port: number): boolean => spawnSync('sh', ['-c', `ss -ltn | grep -q 127.0.0.1:${port}`]).status === 0;

before(async () => {
  dir = tempDir();
  chmodSync(dir, 0o755);
  const { cert, key } = makeCert(dir);
  text = Array.from({ length: 2000 }, (_, i) => `line ${i} ${randomBytes(12).toString('hex')}`).join('\n') + '\n';
  writeFileSync(join(dir, 'big.txt'), text);
  for (const n of ['a', 'b', 'c']) writeFileSync(join(dir, `${n}.txt`), `file ${n}\n`);
  ngPort = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 256; }
http {
  access_log off;
  types { text/plain txt; }
  gzip on; gzip_types text/plain; gzip_min_length 100;
  server {
    listen 127.0.0.1:${ngPort} ssl http2;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    root ${dir};
  }
}`);
  if (spawnSync('sh', ['-c', 'command -v nginx']).status !== 0) return;
  nginx = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' });
  // a node HTTPS (HTTP/1.1) + HTTP/2 server: chunked responses and a gRPC-shaped endpoint
  nodePort = await freePort();
  const srv = `
const https = require('https'), http2 = require('http2'), fs = require('fs');
const opts = { key: fs.readFileSync(${JSON.stringify(key)}), cert: fs.readFileSync(${JSON.stringify(cert)}), allowHTTP1: true };
const s = http2.createSecureServer(opts, (req, res) => {
  if (req.url === '/chunked') { res.setHeader('content-type', 'text/plain'); res.write('first chunk\\n'); setTimeout(() => { res.write('second chunk\\n'); res.end('last\\n'); }, 20); return; }
  if (req.url === '/helloworld.Greeter/SayHello') {
    let body = []; req.on('data', (d) => body.push(d)); req.on('end', () => {
      const msg = Buffer.from('reply-to:' + Buffer.concat(body).subarray(5).toString());
      const frame = Buffer.alloc(5 + msg.length); frame.writeUInt32BE(msg.length, 1); msg.copy(frame, 5);
      res.writeHead(200, { 'content-type': 'application/grpc' }); res.addTrailers({ 'grpc-status': '0', 'grpc-message': 'ok' }); res.end(frame);
    }); return;
  }
  res.end('hello ' + req.url);
});
s.listen(${nodePort}, '127.0.0.1');`;
  nodeSrv = startProcess(process.execPath, ['-e', srv]);
  await waitFor('servers', () => listening(ngPort) && listening(nodePort), 15_000);
});

after(async () => {
  nginx?.kill('SIGQUIT');
  nodeSrv?.child.kill('SIGTERM');
  await sleep(200);
  cleanup(dir);
});

type Json = Record<string, unknown>;
interface Msg {
  protocol: string;
  kind: string;
  method?: string;
  target?: string;
  status?: number;
  stream_id?: number;
  headers: [string, string][];
  trailers?: [string, string][];
  body: string;
  body_encoding: string;
  decoded?: boolean;
  grpc?: { messages: { data: string; data_encoding: string }[]; status?: number; message?: string };
  latency_ns?: number;
}

async function captureJson(t: Parameters<typeof canRunBpf>[0], fn: () => Promise<void>): Promise<Json[] | undefined> {
  if (!canRunBpf(t) || !needPrograms(t, 'nginx', 'curl', 'openssl')) return undefined;
  const cap = await startCapture(['tls', '--format', 'json', '--idle-timeout', '500'], { parse: true });
  await fn();
  await sleep(1200); // past the idle timeout: pending messages are flushed
  assert.equal(await cap.stop(), 0, cap.stderr());
  return readFileSync(cap.eventsFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Json);
}

const l7 = (lines: Json[], pid: number): Msg[] => lines.filter((l) => l.type === 'l7' && l.pid === pid).map((l) => l.msg as Msg);
const header = (m: Msg, name: string): string | undefined => m.headers.find(([n]) => n.toLowerCase() === name)?.[1];
const bodyOf = (m: Msg): Buffer => Buffer.from(m.body, m.body_encoding === 'base64' ? 'base64' : 'utf8');

test('HTTP/2: three requests on one connection all decode (HPACK state kept for the connection)', async (t) => {
  let pid = 0;
  const lines = await captureJson(t, async () => {
    const u = (p: string): string => `https://127.0.0.1:${ngPort}/${p}`;
    const r = await run('curl', ['-sk', '--http2', '-H', 'x-trace: 7f3a', u('a.txt'), u('b.txt'), u('c.txt')]);
    assert.equal(r.code, 0, r.stderr);
    pid = r.pid;
  });
  if (!lines) return;
  const msgs = l7(lines, pid).filter((m) => m.protocol === 'http2');
  const reqs = msgs.filter((m) => m.kind === 'request');
  assert.deepEqual(reqs.map((m) => m.target), ['/a.txt', '/b.txt', '/c.txt'], 'every :path decoded');
  for (const r of reqs) {
    assert.equal(r.method, 'GET');
    assert.match(header(r, 'user-agent') ?? '', /^curl\//, 'user-agent (from the HPACK dynamic table after the first request)');
    assert.equal(header(r, 'x-trace'), '7f3a');
  }
  assert.equal(new Set(reqs.map((r) => r.stream_id)).size, 3, 'three streams');
  const resps = msgs.filter((m) => m.kind === 'response');
  assert.deepEqual(resps.map((m) => bodyOf(m).toString()).sort(), ['file a\n', 'file b\n', 'file c\n']);
  assert.ok(resps.every((m) => m.status === 200));
});

test('HTTP/1.1: keep-alive with three requests, gzip decoded byte for byte, chunked decoded', async (t) => {
  let pid = 0;
  let gz = 0;
  let ch = 0;
  const lines = await captureJson(t, async () => {
    const u = (p: string): string => `https://127.0.0.1:${ngPort}/${p}`;
    pid = (await run('curl', ['-sk', '--http1.1', u('a.txt'), u('b.txt'), u('c.txt')])).pid;
    gz = (await run('curl', ['-sk', '--http1.1', '-H', 'Accept-Encoding: gzip', '-o', '/dev/null', u('big.txt')])).pid;
    ch = (await run('curl', ['-sk', '--http1.1', `https://127.0.0.1:${nodePort}/chunked`])).pid;
  });
  if (!lines) return;
  const ka = l7(lines, pid).filter((m) => m.protocol === 'http1');
  assert.deepEqual(ka.filter((m) => m.kind === 'request').map((m) => m.target), ['/a.txt', '/b.txt', '/c.txt']);
  const kaResp = ka.filter((m) => m.kind === 'response');
  assert.deepEqual(kaResp.map((m) => bodyOf(m).toString()), ['file a\n', 'file b\n', 'file c\n']);
  assert.ok(kaResp.every((m) => m.status === 200 && typeof m.latency_ns === 'number'), 'paired with latency');

  const g = l7(lines, gz).find((m) => m.kind === 'response')!;
  assert.ok(g, 'gzip response');
  assert.equal(header(g, 'content-encoding'), 'gzip');
  assert.equal(g.decoded, true);
  assert.ok(bodyOf(g).equals(Buffer.from(text)), 'gzip body decoded byte for byte');

  const c = l7(lines, ch).find((m) => m.kind === 'response')!;
  assert.ok(c, 'chunked response');
  assert.equal(header(c, 'transfer-encoding'), 'chunked');
  assert.equal(bodyOf(c).toString(), 'first chunk\nsecond chunk\nlast\n', 'chunked body decoded');
});

test('a node http2 client, and a gRPC-shaped exchange with messages and trailers', async (t) => {
  let pid = 0;
  const lines = await captureJson(t, async () => {
    const client = `
const http2 = require('http2');
const c = http2.connect('https://127.0.0.1:${nodePort}', { rejectUnauthorized: false });
const get = c.request({ ':path': '/from-node' }); get.resume();
get.on('end', () => {
  const msg = Buffer.from('grpc-ping'); const f = Buffer.alloc(5 + msg.length); f.writeUInt32BE(msg.length, 1); msg.copy(f, 5);
  const r = c.request({ ':method': 'POST', ':path': '/helloworld.Greeter/SayHello', 'content-type': 'application/grpc', te: 'trailers' });
  r.resume(); r.on('end', () => c.close()); r.end(f);
});`;
    const r = await run(process.execPath, ['-e', client]);
    assert.equal(r.code, 0, r.stderr);
    pid = r.pid;
  });
  if (!lines) return;
  const msgs = l7(lines, pid).filter((m) => m.protocol === 'http2');
  assert.ok(msgs.some((m) => m.kind === 'request' && m.target === '/from-node'), 'node client request');
  const greq = msgs.find((m) => m.kind === 'request' && m.target === '/helloworld.Greeter/SayHello');
  assert.ok(greq?.grpc, 'gRPC request framing decoded');
  assert.equal(Buffer.from(greq.grpc.messages[0]!.data, greq.grpc.messages[0]!.data_encoding === 'base64' ? 'base64' : 'utf8').toString(), 'grpc-ping');
  const gresp = msgs.find((m) => m.kind === 'response' && m.grpc);
  assert.ok(gresp, 'gRPC response');
  assert.equal(gresp.grpc!.status, 0, 'grpc-status from the trailers');
  assert.equal(gresp.grpc!.message, 'ok');
  const d = gresp.grpc!.messages[0]!;
  assert.equal(Buffer.from(d.data, d.data_encoding === 'base64' ? 'base64' : 'utf8').toString(), 'reply-to:grpc-ping');
});

test('text output of parsed messages: header line with stream id, pseudo-headers, decoded body', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'nginx', 'curl')) return;
  const cap = await startCapture(['tls', '--idle-timeout', '500'], { parse: true });
  const r = await run('curl', ['-sk', '--http2', `https://127.0.0.1:${ngPort}/a.txt`]);
  await sleep(1200);
  await cap.stop();
  const out = cap.events().toString();
  const block = out.split(/\n(?=\d{4}-\d\d-\d\dT)/).find((b) => b.includes(`PID:${r.pid} `) && b.includes(':path: /a.txt'));
  assert.ok(block, out.slice(0, 2000));
  assert.match(block, /HTTP\/2 stream \d+/);
  assert.match(block, /:method: GET/);
  const resp = out.split(/\n(?=\d{4}-\d\d-\d\dT)/).find((b) => b.includes(`PID:${r.pid} `) && b.includes('file a'));
  assert.ok(resp, 'response block with its body');
  assert.match(resp, /:status: 200/);
});
