/**
 * `ecapture gotls` against real Go programs on 127.0.0.1 (test/fixtures/go: stdlib-only HTTPS client and server,
 * built by Debian's Go with GOPROXY=off): the client built normally, stripped (-ldflags=-s -w) and as PIE.
 *   text:    request and response plaintext with the right pid, comm, fd and tuple, for each build; a 100 KB body
 *            whole on both sides; HTTP/2 from Go's client (ForceAttemptHTTP2), as raw frames and decoded by the
 *            connection tracker (parsed output, client and server side); discovery of running and new Go programs;
 *            --pid;
 *   keylog:  the key log equals Go's own KeyLogWriter output and lets tshark decrypt an independent tcpdump
 *            recording (TLS 1.3 against the Go server, TLS 1.2 against openssl s_server);
 *   pcap:    the pcapng file decrypts on its own (Decryption Secrets Blocks);
 *   errors:  not a Go binary, a Go binary without crypto/tls, no such process, bad interface.
 * Events are read as JSON lines (--format json) and filtered by our own pids and ports: other captures may run
 * on this machine at the same time.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { goFixture, goSkipReason, variantSkipReason, type GoVariant } from '../fixtures/go/build.js';
import {
  CLI, attachedUprobes, canRunBpf, cleanup, freePort, makeCert, needPrograms, run, skipOrFail, sleep, startCapture, startProcess, tempDir, waitFor,
  type Capture, type Proc,
} from './harness.js';

const VARIANTS: GoVariant[] = ['normal', 'stripped', 'pie'];

let dir = '';
let server: Proc | undefined;
let serverPort = 0;
let sserver: Proc | undefined;
let sserverPort = 0;
const clients: Partial<Record<GoVariant, string>> = {};
let serverBin = '';
let helloBin = '';
let setupError = '';

before(async () => {
  dir = tempDir('ecap-gotls-');
  chmodSync(dir, 0o755);
  if (goSkipReason() || process.getuid?.() !== 0) return;
  try {
    // build only what is needed (cached across runs under os.tmpdir())
    [serverBin, helloBin, clients.normal, clients.stripped, clients.pie] = await Promise.all([
      goFixture('tlsserver', 'normal'), goFixture('hello', 'normal'),
      goFixture('tlsclient', 'normal'), goFixture('tlsclient', 'stripped'), goFixture('tlsclient', 'pie'),
    ]);
  } catch (e) {
    setupError = (e as Error).message;
    return;
  }
  server = startProcess(serverBin, ['-addr', '127.0.0.1:0', '-http2']);
  await waitFor('Go TLS server', () => /listening https:\/\/127\.0\.0\.1:\d+/.test(server!.stdout()) || server!.child.exitCode !== null, 20_000);
  serverPort = Number(/127\.0\.0\.1:(\d+)/.exec(server.stdout())![1]);
  // TLS 1.2 peer for the CLIENT_RANDOM case
  makeCert(dir);
  writeFileSync(join(dir, 'tls12.txt'), 'hello over TLS 1.2\n');
  sserverPort = await freePort();
  sserver = startProcess('openssl', ['s_server', '-accept', `127.0.0.1:${sserverPort}`, '-cert', 'cert.pem', '-key', 'key.pem', '-WWW', '-quiet', '-tls1_2'], { cwd: dir });
  await waitFor('s_server', () => spawnSync('sh', ['-c', `ss -ltn | grep -q 127.0.0.1:${sserverPort}`]).status === 0 || sserver!.child.exitCode !== null, 10_000);
});

after(async () => {
  for (const p of [server, sserver]) {
    if (p && p.child.exitCode === null) {
      p.child.kill('SIGTERM');
      await p.exited;
    }
  }
  if (process.env.KEEP) console.log('kept', dir);
  else cleanup(dir);
});

/** The e2e preconditions of this file: root, BPF, Go, the fixtures built and the server up. */
function ready(t: Parameters<typeof canRunBpf>[0], ...programs: string[]): boolean {
  if (!canRunBpf(t)) return false;
  const go = goSkipReason();
  if (go) return !skipOrFail(t, go);
  if (setupError) assert.fail(`building the Go fixtures failed: ${setupError}`);
  assert.ok(server && server.child.exitCode === null, `the Go TLS server runs: ${server?.stderr()}`);
  return needPrograms(t, ...programs);
}

interface JsonRec {
  type: string;
  module: string;
  pid: number;
  tid: number;
  comm: string;
  uid: number;
  dir?: 'read' | 'write';
  fd?: number;
  conn_id?: string;
  src_ip?: string | null;
  src_port?: number | null;
  dst_ip?: string | null;
  dst_port?: number | null;
  seq?: number;
  len?: number;
  payload?: string;
  payload_encoding?: 'utf8' | 'base64';
  label?: string;
  client_random?: string;
  secret?: string;
  msg?: unknown;
  lost_bytes?: number;
}

function records(cap: Capture): JsonRec[] {
  return cap
    .events()
    .toString('utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as JsonRec);
}

function bytesOf(r: JsonRec): Buffer {
  return Buffer.from(r.payload ?? '', r.payload_encoding === 'base64' ? 'base64' : 'utf8');
}

/** The bytes one process moved in one direction on one connection (by its local port), in stream order. */
function stream(recs: JsonRec[], pid: number, dir: 'read' | 'write', localPort: number): Buffer {
  const mine = recs.filter((r) => r.type === 'data' && r.pid === pid && r.dir === dir && (dir === 'write' ? r.src_port : r.dst_port) === localPort);
  mine.sort((a, b) => a.seq! - b.seq!);
  return Buffer.concat(mine.map(bytesOf));
}

/** A gotls capture with JSON output; raw per-call data records unless `parse` (then the tracker's L7 records). */
async function gotls(args: string[], parse = false): Promise<Capture> {
  return startCapture(['gotls', '--format', 'json', ...args], { readyTimeoutMs: 30_000, parse });
}

async function client(variant: GoVariant, args: string[]): Promise<{ pid: number; stdout: string }> {
  const r = await run(clients[variant]!, args, { timeoutMs: 30_000 });
  assert.equal(r.code, 0, `tlsclient-${variant} ${args.join(' ')}: ${r.stderr}`);
  return r;
}

/** One HTTP/1.1 exchange of `pid` with the Go server, checked: pid, comm, fd, tuple, request and response. */
function assertExchange(recs: JsonRec[], pid: number, path: string, body: string, what: string): { localPort: number } {
  const writes = recs.filter((r) => r.type === 'data' && r.pid === pid && r.dir === 'write');
  const req = writes.find((r) => bytesOf(r).toString('latin1').startsWith(`POST ${path} HTTP/1.1\r\n`));
  assert.ok(req, `${what}: the request line is captured (${writes.length} writes of pid ${pid})`);
  assert.equal(req.module, 'gotls');
  assert.match(req.comm, /^tlsclient/, `${what}: comm`);
  assert.ok(req.fd! > 2, `${what}: a real fd (${req.fd})`);
  assert.equal(req.dst_ip, '127.0.0.1', `${what}: server address`);
  assert.equal(req.dst_port, serverPort, `${what}: server port`);
  assert.equal(req.src_ip, '127.0.0.1');
  const localPort = req.src_port!;
  assert.ok(localPort > 0);
  const sent = stream(recs, pid, 'write', localPort).toString('latin1');
  assert.ok(sent.includes(`\r\n\r\n${body}`), `${what}: the request body follows its headers`);
  const got = stream(recs, pid, 'read', localPort).toString('latin1');
  assert.match(got, /^HTTP\/1\.1 200 OK\r\n/, `${what}: the response status line`);
  assert.ok(got.includes(`hello from tlsserver: POST ${path} (${Buffer.byteLength(body)} bytes received, HTTP/1.1)\n`), `${what}: the response body (${JSON.stringify(got.slice(-120))})`);
  const reads = recs.filter((r) => r.type === 'data' && r.pid === pid && r.dir === 'read' && r.dst_port === localPort);
  for (const r of reads) {
    assert.equal(r.src_port, serverPort, `${what}: read tuple is server → client`);
    assert.equal(r.fd, req.fd, `${what}: reads and writes on one fd`);
    assert.equal(r.conn_id, req.conn_id, `${what}: one *tls.Conn`);
  }
  return { localPort };
}

for (const variant of VARIANTS) {
  test(`gotls text (${variant} build): request and response with pid, comm, fd and tuple`, async (t) => {
    if (!ready(t)) return;
    const cap = await gotls(['--elfpath', clients[variant]!]);
    const body = `ping from the ${variant} client ${process.pid}`;
    const c = await client(variant, ['-url', `https://127.0.0.1:${serverPort}/${variant}`, '-body', body]);
    await sleep(300);
    assert.equal(await cap.stop(), 0, cap.stderr());
    assert.match(c.stdout, /^HTTP\/1\.1 200 OK\n/, 'the traced client still works');
    const recs = records(cap);
    assertExchange(recs, c.pid, `/${variant}`, body, variant);
    assert.match(cap.stderr(), new RegExp(`hooked .*lib="go1\\.\\d+(\\.\\d+)? \\(register ABI${variant === 'pie' ? ', PIE' : variant === 'stripped' ? ', stripped' : ''}\\)"`));
    assert.ok(recs.every((r) => r.pid === c.pid), '--elfpath hooks that binary only (not the server)');
    assert.match(cap.stderr(), /lost 0 events/);
  });
}

test('gotls text (PIE linked by the C linker, cgo on): request and response', async (t) => {
  if (!ready(t)) return;
  const why = variantSkipReason('pie-external');
  if (why) {
    // ECAPTURE_TEST_GO_EXTERNAL=0 is a choice; a missing C compiler is a machine that cannot run the test
    if (why.startsWith('ECAPTURE_TEST_GO_EXTERNAL')) t.skip(why);
    else skipOrFail(t, why);
    return;
  }
  clients['pie-external'] = await goFixture('tlsclient', 'pie-external');
  const cap = await gotls(['--elfpath', clients['pie-external']]);
  const c = await client('pie-external', ['-url', `https://127.0.0.1:${serverPort}/pie-external`, '-body', 'cgo']);
  await sleep(300);
  assert.equal(await cap.stop(), 0, cap.stderr());
  assertExchange(records(cap), c.pid, '/pie-external', 'cgo', 'pie-external');
});

test('gotls text: discovery hooks the running server and a client started later; a 100 KB body arrives whole on both sides', async (t) => {
  if (!ready(t)) return;
  const cap = await gotls([]);
  assert.match(cap.stderr(), new RegExp(`hooked .*path=${serverBin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), 'the running Go server is found at start');
  const body = 'B'.repeat(100_000);
  // -delay: the exec watcher hooks the new program while it sleeps, before its first TLS call
  const c = await client('stripped', ['-url', `https://127.0.0.1:${serverPort}/big`, '-body', body, '-delay', '700ms']);
  await sleep(300);
  assert.equal(await cap.stop(), 0, cap.stderr());
  const recs = records(cap);
  const { localPort } = assertExchange(recs, c.pid, '/big', body, 'discovered client');
  // the server side: its read of the request and its write of the response, on the accepted socket
  const srv = server!.pid;
  const got = stream(recs, srv, 'read', serverPort).toString('latin1');
  const srvReads = recs.filter((r) => r.pid === srv && r.type === 'data' && r.dir === 'read' && r.src_port === localPort);
  assert.ok(srvReads.length > 0, 'server reads of this connection');
  const req = Buffer.concat(srvReads.sort((a, b) => a.seq! - b.seq!).map(bytesOf)).toString('latin1');
  assert.ok(req.startsWith('POST /big HTTP/1.1\r\n'), 'the server read the request line');
  assert.equal(req.slice(req.indexOf('\r\n\r\n') + 4).length, body.length, 'the server read the whole 100 KB body (chunks and seq intact)');
  assert.ok(got.length >= req.length);
  assert.ok(srvReads.every((r) => r.comm.startsWith('tlsserver') && r.dst_port === serverPort && r.fd! > 2), 'server tuple, comm and fd');
  const srvWrite = recs.find((r) => r.pid === srv && r.type === 'data' && r.dir === 'write' && r.dst_port === localPort);
  assert.ok(srvWrite && bytesOf(srvWrite).toString('latin1').startsWith('HTTP/1.1 200 OK'), 'the server wrote the response');
  const gaps = recs.filter((r) => r.type === 'gap' && (r.pid === c.pid || r.pid === srv));
  assert.deepEqual(gaps, [], 'no gaps');
});

test('gotls text: 50 requests on one keep-alive connection, every request and response in order, no gaps', async (t) => {
  if (!ready(t)) return;
  const cap = await gotls(['--elfpath', clients.stripped!]);
  const c = await client('stripped', ['-url', `https://127.0.0.1:${serverPort}/keepalive`, '-body', 'again', '-n', '50']);
  await sleep(300);
  assert.equal(await cap.stop(), 0, cap.stderr());
  const recs = records(cap).filter((r) => r.pid === c.pid);
  const data = recs.filter((r) => r.type === 'data');
  const ports = new Set(data.map((r) => (r.dir === 'write' ? r.src_port : r.dst_port)));
  assert.equal(ports.size, 1, 'one connection');
  const localPort = [...ports][0]!;
  const conns = new Set(data.map((r) => r.conn_id));
  assert.equal(conns.size, 1, 'one *tls.Conn');
  const sent = stream(recs, c.pid, 'write', localPort).toString('latin1');
  const got = stream(recs, c.pid, 'read', localPort).toString('latin1');
  assert.equal(sent.split('POST /keepalive HTTP/1.1\r\n').length - 1, 50, '50 requests');
  assert.equal(got.split('hello from tlsserver: POST /keepalive (5 bytes received, HTTP/1.1)\n').length - 1, 50, '50 responses');
  // stream positions are contiguous per direction: nothing lost, nothing counted twice
  for (const dir of ['read', 'write'] as const) {
    let next = 0;
    for (const r of data.filter((x) => x.dir === dir).sort((a, b) => a.seq! - b.seq!)) {
      assert.equal(r.seq, next, `${dir} seq contiguous`);
      next += r.len!;
    }
  }
  assert.deepEqual(recs.filter((r) => r.type === 'gap'), [], 'no gaps');
});

test('gotls text: HTTP/2 from Go\'s client (ForceAttemptHTTP2)', async (t) => {
  if (!ready(t)) return;
  const cap = await gotls(['--elfpath', clients.normal!]);
  const c = await client('normal', ['-url', `https://127.0.0.1:${serverPort}/h2path`, '-http2', '-n', '2']);
  await sleep(300);
  assert.equal(await cap.stop(), 0, cap.stderr());
  assert.match(c.stdout, /^HTTP\/2\.0 200 OK\n/, 'the client spoke HTTP/2');
  const recs = records(cap).filter((r) => r.pid === c.pid);
  const l7 = recs.filter((r) => r.type === 'l7');
  const writes = recs.filter((r) => r.type === 'data' && r.dir === 'write');
  assert.ok(writes.length > 0 || l7.length > 0, 'the exchange is captured');
  if (l7.length > 0) {
    // a connection tracker decoded HTTP/2: the request's :path is there
    assert.match(JSON.stringify(l7.map((r) => r.msg)), /\/h2path/, 'decoded :path');
  }
  if (writes.length > 0) {
    // raw frames: the client preface, then SETTINGS; the HPACK-encoded request; the response DATA in clear
    const localPort = writes[0]!.src_port!;
    const sent = stream(recs, c.pid, 'write', localPort);
    const got = stream(recs, c.pid, 'read', localPort);
    assert.ok(sent.subarray(0, 24).equals(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')), 'the HTTP/2 client preface opens the stream');
    assert.equal(sent[24 + 3], 0x4, 'a SETTINGS frame follows the preface');
    assert.equal(got[3], 0x4, 'the server starts with SETTINGS');
    assert.ok(got.includes('hello from tlsserver: GET /h2path (0 bytes received, HTTP/2.0)'), 'the DATA frame payload (response body) is plaintext');
    const frames = h2Frames(got);
    assert.ok(frames.some((f) => f.type === 0x1), 'a HEADERS frame from the server');
    assert.equal(frames.filter((f) => f.type === 0x0 && f.stream > 0 && f.length > 0).length, 2, 'two DATA frames: two requests on one connection');
    assert.deepEqual(new Set(recs.filter((r) => r.type === 'data').map((r) => r.src_port === localPort ? localPort : r.dst_port)), new Set([localPort]), 'one connection');
  }
});

interface L7Msg {
  protocol: string;
  kind: string;
  headers?: [string, string][];
  body?: string;
  method?: string;
  target?: string;
  status?: number;
  stream_id?: number;
}

test('gotls parsed output: HTTP/2 and HTTP/1.1 exchanges are decoded (headers, bodies) for the client and the server', async (t) => {
  if (!ready(t)) return;
  const srv = server!.pid;
  const cap = await gotls([], true);
  const h2 = await client('normal', ['-url', `https://127.0.0.1:${serverPort}/parsed-h2`, '-http2', '-delay', '700ms']);
  const h1 = await client('pie', ['-url', `https://127.0.0.1:${serverPort}/parsed-h1`, '-body', 'parse me', '-delay', '700ms']);
  await sleep(500);
  assert.equal(await cap.stop(), 0, cap.stderr());
  const recs = records(cap).filter((r) => r.type === 'l7');
  const msgs = (pid: number, protocol: string, kind: string): L7Msg[] =>
    recs.filter((r) => r.pid === pid && (r.msg as L7Msg).protocol === protocol && (r.msg as L7Msg).kind === kind).map((r) => r.msg as L7Msg);
  const header = (m: L7Msg, name: string): string | undefined => m.headers?.find(([k]) => k.toLowerCase() === name)?.[1];
  // HTTP/2, the client's side: HPACK-decoded request pseudo-headers, the response status and body
  const req2 = msgs(h2.pid, 'http2', 'request').find((m) => header(m, ':path') === '/parsed-h2');
  assert.ok(req2, `the client's HTTP/2 request is decoded (${JSON.stringify(recs.filter((r) => r.pid === h2.pid).map((r) => r.msg)).slice(0, 400)})`);
  assert.equal(header(req2, ':method'), 'GET');
  assert.equal(header(req2, ':scheme'), 'https');
  assert.equal(header(req2, 'user-agent'), 'Go-http-client/2.0');
  const resp2 = msgs(h2.pid, 'http2', 'response').find((m) => m.stream_id === req2.stream_id);
  assert.ok(resp2, 'the HTTP/2 response on the same stream');
  assert.equal(header(resp2, ':status'), '200');
  assert.equal(resp2.body, 'hello from tlsserver: GET /parsed-h2 (0 bytes received, HTTP/2.0)\n');
  // ... and the server's side of the same exchange
  assert.ok(msgs(srv, 'http2', 'request').some((m) => header(m, ':path') === '/parsed-h2'), 'the server\'s read of the HTTP/2 request is decoded');
  assert.ok(msgs(srv, 'http2', 'response').some((m) => (m.body ?? '').includes('GET /parsed-h2')), 'the server\'s HTTP/2 response is decoded');
  // HTTP/1.1 from the PIE client
  const req1 = msgs(h1.pid, 'http1', 'request').find((m) => m.target === '/parsed-h1');
  assert.ok(req1, 'the HTTP/1.1 request is decoded');
  assert.equal(req1.method, 'POST');
  assert.equal(req1.body, 'parse me');
  assert.equal(header(req1, 'content-type'), 'text/plain');
  const resp1 = msgs(h1.pid, 'http1', 'response');
  assert.ok(resp1.some((m) => m.status === 200 && m.body === 'hello from tlsserver: POST /parsed-h1 (8 bytes received, HTTP/1.1)\n'), 'the HTTP/1.1 response is decoded');
  assert.ok(recs.filter((r) => r.pid === h1.pid).every((r) => r.dst_port === serverPort || r.src_port === serverPort), 'tuples on the records');
});

/** HTTP/2 frame headers of a server → client byte stream (after its start: no preface on this side). */
function h2Frames(b: Buffer): { type: number; stream: number; length: number }[] {
  const out: { type: number; stream: number; length: number }[] = [];
  for (let o = 0; o + 9 <= b.length; ) {
    const length = b.readUIntBE(o, 3);
    out.push({ type: b[o + 3]!, stream: b.readUInt32BE(o + 5) & 0x7fffffff, length });
    o += 9 + length;
  }
  return out;
}

test('gotls text: --pid keeps the chosen Go process only', async (t) => {
  if (!ready(t)) return;
  const srv = server!.pid;
  const cap = await gotls(['--pid', String(srv)]);
  const c = await client('normal', ['-url', `https://127.0.0.1:${serverPort}/pid`, '-body', 'for the server only']);
  await sleep(300);
  assert.equal(await cap.stop(), 0, cap.stderr());
  const recs = records(cap).filter((r) => r.type === 'data');
  assert.ok(recs.some((r) => r.pid === srv && bytesOf(r).toString('latin1').startsWith('POST /pid HTTP/1.1')), 'the server read the request');
  assert.equal(recs.filter((r) => r.pid === c.pid).length, 0, 'the client is not captured');
  assert.ok(recs.every((r) => r.pid === srv));
});

/** tcpdump on lo for one port, started and ready. */
async function tcpdump(port: number, file: string): Promise<Proc> {
  // --immediate-mode: packets reach the file as they come, not when a kernel block fills or times out
  const p = startProcess('tcpdump', ['-i', 'lo', '-U', '--immediate-mode', '-n', '-w', file, `tcp port ${port}`]);
  await waitFor('tcpdump', () => /listening on/.test(p.stderr()) || p.child.exitCode !== null, 10_000);
  assert.equal(p.child.exitCode, null, `tcpdump: ${p.stderr()}`);
  return p;
}

async function stopProc(p: Proc): Promise<void> {
  if (p.child.exitCode === null) p.child.kill('SIGINT');
  await p.exited;
}

function tshark(args: string[]): string {
  const r = spawnSync('tshark', ['-n', ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `tshark ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function keyLines(file: string): string[] {
  return readFileSync(file, 'latin1').split('\n').filter((l) => /^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]+$/.test(l));
}

test('gotls keylog: every build\'s key log equals Go\'s own and decrypts an independent tcpdump recording (TLS 1.3 and 1.2)', async (t) => {
  if (!ready(t, 'tcpdump', 'tshark', 'openssl')) return;
  const pcap13 = join(dir, 'go13.pcap');
  const pcap12 = join(dir, 'go12.pcap');
  const dump13 = await tcpdump(serverPort, pcap13);
  const dump12 = await tcpdump(sserverPort, pcap12);
  const allKeys: string[] = [];
  try {
    for (const variant of VARIANTS) {
      const keys = join(dir, `keys-${variant}.log`);
      const own = join(dir, `own-${variant}.log`);
      const cap = await gotls(['--elfpath', clients[variant]!, '-m', 'keylog', '-k', keys]);
      // one run with Go's own KeyLogWriter (to compare), one without (writeKeyLog is called either way)
      await client(variant, ['-url', `https://127.0.0.1:${serverPort}/kl-${variant}`, '-body', `keys ${variant}`, '-keylog', own]);
      await client(variant, ['-url', `https://127.0.0.1:${serverPort}/nokl-${variant}`, '-body', `no keylog ${variant}`]);
      await client(variant, ['-url', `https://127.0.0.1:${sserverPort}/tls12.txt`]);
      await sleep(300);
      assert.equal(await cap.stop(), 0, cap.stderr());
      const ours = keyLines(keys);
      const theirs = keyLines(own);
      assert.equal(theirs.length, 4, 'Go wrote four TLS 1.3 secrets');
      for (const l of theirs) assert.ok(ours.includes(l), `${variant}: our key log has Go's line ${l.slice(0, 40)}…`);
      const labels = ours.map((l) => l.split(' ')[0]);
      assert.equal(labels.filter((l) => l === 'CLIENT_TRAFFIC_SECRET_0').length, 2, `${variant}: two TLS 1.3 connections`);
      assert.equal(labels.filter((l) => l === 'CLIENT_RANDOM').length, 1, `${variant}: one TLS 1.2 connection`);
      assert.equal(new Set(ours).size, ours.length, 'one line per secret');
      assert.equal(statSync(keys).mode & 0o777, 0o600, 'the key log is 0600');
      const keyRecs = records(cap).filter((r) => r.type === 'key');
      assert.equal(keyRecs.length, ours.length, 'a key record per line in the event stream');
      assert.ok(keyRecs.every((r) => /^tlsclient/.test(r.comm) && r.module === 'gotls'));
      assert.equal(records(cap).filter((r) => r.type === 'data').length, 0, 'no plaintext in keylog mode');
      allKeys.push(...ours);
    }
  } finally {
    await sleep(500);
    await stopProc(dump13);
    await stopProc(dump12);
  }
  const keyFile = join(dir, 'all-keys.log');
  writeFileSync(keyFile, allKeys.join('\n') + '\n');
  // first the recording itself: every ClientHello is there, and our key log has the secrets of each
  const randoms = tshark(['-r', pcap13, '-Y', 'tls.handshake.type == 1', '-T', 'fields', '-e', 'tls.handshake.random']).split('\n').filter(Boolean).map((r) => r.replace(/:/g, ''));
  assert.equal(randoms.length, 2 * VARIANTS.length, `tcpdump recorded every TLS 1.3 handshake (${dump13.stderr().trim()})`);
  for (const r of randoms) {
    assert.ok(allKeys.some((l) => l.startsWith(`CLIENT_TRAFFIC_SECRET_0 ${r} `)) && allKeys.some((l) => l.startsWith(`SERVER_HANDSHAKE_TRAFFIC_SECRET ${r} `)), `secrets of ClientHello ${r}`);
  }
  const uris = tshark(['-r', pcap13, '-o', `tls.keylog_file:${keyFile}`, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri']).split('\n');
  for (const v of VARIANTS) {
    for (const p of [`/kl-${v}`, `/nokl-${v}`]) assert.ok(uris.includes(p), `tshark decrypts POST ${p} (got ${uris.join(' ')})`);
  }
  const bodies = tshark(['-r', pcap13, '-o', `tls.keylog_file:${keyFile}`, '-Y', 'http.response.code == 200', '-T', 'fields', '-e', 'http.file_data']);
  assert.match(bodies, /hello from tlsserver: POST \/nokl-pie/, 'and the response bodies');
  const uris12 = tshark(['-r', pcap12, '-o', `tls.keylog_file:${keyFile}`, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri']).split('\n');
  assert.equal(uris12.filter((u) => u === '/tls12.txt').length, 3, 'TLS 1.2 (CLIENT_RANDOM) connections decrypt too');
  const none = tshark(['-r', pcap13, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri']);
  assert.equal(none.trim(), '', 'without the key log nothing decrypts');
});

test('gotls pcap: the pcapng file decrypts on its own (PIE client, HTTP/1.1 and HTTP/2)', async (t) => {
  if (!ready(t, 'tshark')) return;
  const out = join(dir, 'gotls.pcapng');
  const keys = join(dir, 'pcap-keys.log');
  const cap = await gotls(['--elfpath', clients.pie!, '-m', 'pcap', '-i', 'lo', '-w', out, '-k', keys, 'tcp', 'port', String(serverPort)]);
  await client('pie', ['-url', `https://127.0.0.1:${serverPort}/pcap-h1`, '-body', 'pcap body']);
  await client('pie', ['-url', `https://127.0.0.1:${serverPort}/pcap-h2`, '-http2']);
  await sleep(500);
  assert.equal(await cap.stop(), 0, cap.stderr());
  assert.match(cap.stderr(), /pcapng written .*secrets_blocks=[1-9]/);
  assert.equal(statSync(out).mode & 0o777, 0o600, 'the pcapng file is 0600');
  const uris = tshark(['-r', out, '-Y', 'http.request || http2.type == 1', '-T', 'fields', '-e', 'http.request.uri', '-e', 'http2.headers.path']);
  assert.match(uris, /\/pcap-h1/, `HTTP/1.1 request decrypted without any key file (${uris})`);
  assert.match(uris, /\/pcap-h2/, 'HTTP/2 request decrypted too');
  const body = tshark(['-r', out, '-Y', 'http.response.code == 200', '-T', 'fields', '-e', 'http.file_data']);
  assert.match(body, /hello from tlsserver: POST \/pcap-h1 \(9 bytes received/);
  assert.equal(keyLines(keys).length, 8, 'the key log is written too: 4 TLS 1.3 secrets per connection');
  // packets of other ports are not in the file (filter), and the key log has nothing of other programs
  const ports = new Set(tshark(['-r', out, '-T', 'fields', '-e', 'tcp.port']).split(/[\n,]/).filter(Boolean).map(Number));
  assert.ok(ports.has(serverPort));
  assert.equal(ports.size, 3, `only the two connections to the server port (${[...ports].join(' ')})`);
});

test('gotls: errors are one clear line with a hint and a non-zero exit', async (t) => {
  if (!ready(t)) return;
  const notGo = join(dir, 'script.sh');
  writeFileSync(notGo, '#!/bin/sh\n');
  const link = join(dir, 'link.log');
  symlinkSync(join(dir, 'target.log'), link);
  const cases: [string[], RegExp][] = [
    [['gotls', '--elfpath', '/bin/ls'], /not a Go binary: \/bin\/ls/],
    [['tlsgo', '-e', notGo], /script\.sh: not a Go binary \(.*not an ELF file/],
    [['gotls', '--elfpath', join(dir, 'missing')], /missing: not a Go binary \(.*no such file/i],
    [['gotls', '--elfpath', helloBin], /function crypto\/tls\.\(\*Conn\)\.writeRecordLocked not found in .*hello-normal: .*is crypto\/tls linked in\?/],
    [['gotls', '--pid', '4000000'], /--pid 4000000: no such process/],
    [['gotls', '-e', clients.normal!, '-m', 'pcap', '-i', 'nosuchif0'], /nosuchif0/],
    [['gotls', '-e', clients.normal!, '-m', 'keylog', '-k', link], /symbolic link; refusing to follow it/],
    [['gotls', '-e', clients.normal!, '-m', 'pcap', '-i', 'lo', '-w', link], /symbolic link/],
    [['gotls', '-e', clients.normal!, '-m', 'keylog', '-k', '/nonexistent-dir/keys.log'], /open key log file \/nonexistent-dir\/keys.log/],
  ];
  for (const [args, re] of cases) {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 1, `${args.join(' ')}: exit 1 (${r.stderr})`);
    assert.match(r.stderr, re, `${args.join(' ')}: ${r.stderr}`);
    if (!args.includes(link) && !args.includes('/nonexistent-dir/keys.log')) assert.match(r.stderr, /^hint: /m, `${args.join(' ')}: a hint says what to do`);
    assert.doesNotMatch(r.stderr, /INF hooked|capture started/, 'nothing was attached');
  }
  assert.ok(!existsSync(join(dir, 'target.log')), 'the symlink target was not created');
  // a running process that is not a Go program
  const sh = startProcess('sleep', ['30']);
  try {
    const r = spawnSync(process.execPath, [CLI, 'gotls', '--pid', String(sh.pid)], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`--pid ${sh.pid}: not a Go binary: .*sleep`));
  } finally {
    sh.child.kill('SIGKILL');
    await sh.exited;
  }
});

test('gotls: after SIGINT no uprobe stays attached and the traced program keeps running', async (t) => {
  if (!ready(t, 'bpftool')) return;
  const srv = server!.pid;
  const cap = await gotls(['--pid', String(srv)]);
  const ours = (): number => {
    const r = spawnSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' });
    return (JSON.parse(r.stdout || '[]') as { name?: string }[]).filter((p) => /^uprobe_gotls/.test(p.name ?? '')).length;
  };
  assert.ok(attachedUprobes(cap.pid, /^uprobe_gotls/) >= 3, 'uprobes attached while capturing');
  assert.ok(ours() >= 2, 'gotls programs loaded while capturing');
  await client('normal', ['-url', `https://127.0.0.1:${serverPort}/before-stop`]);
  assert.equal(await cap.stop(), 0);
  assert.equal(attachedUprobes(cap.pid, /^uprobe_gotls/), 0, 'nothing of ours stays attached');
  assert.equal(ours(), 0, 'no gotls program stays loaded');
  await client('normal', ['-url', `https://127.0.0.1:${serverPort}/after-stop`]);
  assert.equal(server!.child.exitCode, null, 'the Go server survived being traced (no uretprobes on moving stacks)');
});
