/**
 * Outputs and control plane end to end, during real captures of curl on 127.0.0.1: JSON lines checked
 * against the text of the same run (through the eCaptureQ stream), tcp:// and ws:// sinks that lose their
 * server mid-capture, rotation, the eCaptureQ server with two clients, and the HTTP config API.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { readdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import protobuf from 'protobufjs';
import { WebSocket, WebSocketServer } from 'ws';
import {
  CLI, canRunBpf, cleanup, freePort, makeCert, needPrograms, run, sleep, startProcess, tempDir, waitFor, type Proc,
} from './harness.js';
import { projectRoot } from '../../src/util/paths.js';

let dir = '';
let port = 0;
let server: Proc | undefined;

before(async () => {
  dir = tempDir();
  chmodSync(dir, 0o755);
  makeCert(dir);
  for (let i = 0; i < 50; i++) writeFileSync(join(dir, `f${i}.txt`), `file ${i}\n`);
  port = await freePort();
  server = startProcess('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', 'cert.pem', '-key', 'key.pem', '-WWW', '-quiet'], { cwd: dir });
  await waitFor('s_server', () => spawnSync('sh', ['-c', `ss -ltn | grep -q 127.0.0.1:${port}`]).status === 0, 10_000);
});

after(async () => {
  server?.child.kill('SIGTERM');
  await server?.exited;
  cleanup(dir);
});

/** Start ecapture with these args (no --eventaddr added; --raw: one record per read/write); resolve once all hooks are attached. */
async function capture(args: string[]): Promise<Proc & { stop: () => Promise<number | string> }> {
  const p = startProcess(process.execPath, [CLI, ...args, '--raw']);
  // with --listen the API server starts right after the hooks are attached: wait for it too
  const ready = args.includes('--listen') ? /HTTP config API listening/ : /capture started/;
  await waitFor('capture to start', () => ready.test(p.stderr()) || p.child.exitCode !== null, 20_000);
  if (p.child.exitCode !== null) throw new Error(`ecapture exited: ${p.stderr()}`);
  return {
    ...p,
    stop: async () => {
      if (p.child.exitCode === null) p.child.kill('SIGINT');
      return p.exited;
    },
  };
}

const curl = (path: string): ReturnType<typeof run> => run('curl', ['-sk', '--http1.1', `https://127.0.0.1:${port}/${path}`]);

async function loadProto(): Promise<protobuf.Root> {
  // independent of the encoder: parse the .proto text itself
  return protobuf.parse(readFileSync(join(projectRoot, 'proto', 'ecaptureq.proto'), 'utf8')).root;
}

test('JSON lines match the text of the same run (eCaptureQ carries the text)', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'curl', 'openssl')) return;
  const events = join(dir, 'ev.jsonl');
  const qport = await freePort();
  const cap = await capture(['tls', '--format', 'json', '--eventaddr', events, '--ecaptureq', `ws://127.0.0.1:${qport}/`]);
  const root = await loadProto();
  const LogEntry = root.lookupType('event.LogEntry');
  const ws = new WebSocket(`ws://127.0.0.1:${qport}/`);
  const frames: Record<string, unknown>[] = [];
  ws.on('message', (d: Buffer) => frames.push(LogEntry.toObject(LogEntry.decode(d), { longs: Number, bytes: Buffer, enums: String }) as Record<string, unknown>));
  await new Promise((r) => ws.on('open', r));
  const c = await curl('f1.txt');
  await sleep(500);
  ws.close();
  assert.equal(await cap.stop(), 0, cap.stderr());
  const lines = readFileSync(events, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const req = lines.find((l) => l.type === 'data' && l.pid === c.pid && l.dir === 'write');
  assert.ok(req, 'curl\'s write is a JSON line');
  assert.equal(req.comm, 'curl');
  assert.equal(req.dst_port, port);
  assert.equal(req.dst_ip, '127.0.0.1');
  assert.match(String(req.payload), /^GET \/f1\.txt HTTP\/1\.1\r\n/);
  assert.equal(typeof req.ts, 'string');
  // the same record as text, through eCaptureQ (Event.payload is the text rendering)
  const evs = frames.filter((f) => f.logType === 'LOG_TYPE_EVENT').map((f) => f.eventPayload as Record<string, unknown>);
  const same = evs.find((e) => e.pid === c.pid && String((e.payload as Buffer).toString()).includes('GET /f1.txt'));
  assert.ok(same, 'the same request on the eCaptureQ stream');
  const text = (same.payload as Buffer).toString();
  assert.ok(text.includes(`PID:${c.pid} `) && text.includes('Comm:curl') && text.includes(`-> 127.0.0.1:${port} WRITE ${req.len} bytes`), text.split('\n')[0]);
  assert.equal(same.dstPort, port);
  assert.equal(same.srcPort, req.src_port);
  assert.ok(frames.some((f) => f.logType === 'LOG_TYPE_HEARTBEAT' || f.logType === 'LOG_TYPE_PROCESS_LOG'), 'heartbeat or run log too');
});

test('tcp:// sink: the server goes away mid-capture, the capture goes on, reconnects, and counts what it dropped', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'curl', 'openssl')) return;
  const sport = await freePort();
  let received = '';
  const conns = new Set<Socket>();
  const listen = (): Promise<Server> =>
    new Promise((resolve) => {
      const s = createServer((c) => {
        conns.add(c);
        c.on('data', (d) => (received += d.toString('latin1')));
        c.on('close', () => conns.delete(c));
      });
      s.listen(sport, '127.0.0.1', () => resolve(s));
    });
  let srv = await listen();
  const cap = await capture(['tls', '--eventaddr', `tcp://127.0.0.1:${sport}`]);
  await curl('f2.txt');
  await waitFor('first event over tcp', () => received.includes('GET /f2.txt'), 5000);
  // the server goes away (closing its side) and stays away while traffic continues
  await new Promise<void>((r) => {
    for (const c of conns) c.end();
    srv.close(() => r());
  });
  await sleep(300);
  for (let i = 3; i < 8; i++) await curl(`f${i}.txt`);
  await sleep(500);
  srv = await listen();
  await waitFor('reconnect', () => /reconnect/i.test(cap.stderr()), 15_000);
  await curl('f9.txt');
  await waitFor('events after reconnect', () => received.includes('GET /f9.txt'), 10_000);
  assert.equal(await cap.stop(), 0, cap.stderr());
  srv.close();
  assert.ok(received.includes('GET /f2.txt') && received.includes('GET /f9.txt'), 'before and after');
  // whatever did not arrive was counted
  const missing = [3, 4, 5, 6, 7].filter((i) => !received.includes(`GET /f${i}.txt`)).length;
  if (missing > 0) assert.match(cap.stderr(), /dropped/i, 'drops are reported');
});

test('ws:// sink: events arrive in order as frames', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'curl', 'openssl')) return;
  const wport = await freePort();
  const wss = new WebSocketServer({ host: '127.0.0.1', port: wport });
  const msgs: string[] = [];
  wss.on('connection', (s) => s.on('message', (d: Buffer) => msgs.push(d.toString('latin1'))));
  const cap = await capture(['tls', '--format', 'json', '--eventaddr', `ws://127.0.0.1:${wport}/`]);
  const pids: number[] = [];
  for (let i = 10; i < 15; i++) pids.push((await curl(`f${i}.txt`)).pid);
  await sleep(500);
  await cap.stop();
  await new Promise((r) => wss.close(r));
  const reqs = msgs.map((m) => JSON.parse(m) as Record<string, unknown>).filter((o) => o.type === 'data' && o.dir === 'write' && pids.includes(o.pid as number));
  assert.deepEqual(reqs.map((r) => /GET \/(f\d+)/.exec(String(r.payload))?.[1]), ['f10', 'f11', 'f12', 'f13', 'f14'], 'one frame per event, in order');
});

test('--eventroratesize rotates the event file with nothing lost at the seams', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'curl', 'openssl')) return;
  const d = tempDir();
  writeFileSync(join(dir, 'big.txt'), 'x'.repeat(700_000) + '\n');
  const cap = await capture(['tls', '--eventaddr', join(d, 'ev.txt'), '--eventroratesize', '1']);
  const c = await curl('big.txt');
  await curl('big.txt');
  await sleep(500);
  await cap.stop();
  const files = readdirSync(d).sort();
  assert.ok(files.length >= 2, `rotated: ${files.join(', ')}`);
  const all = files.map((f) => readFileSync(join(d, f), 'latin1')).join('');
  const body = (all.match(new RegExp(`PID:${c.pid} .*READ (\\d+) bytes`, 'g')) ?? []).length;
  assert.ok(body > 0);
  assert.equal((all.match(/x/g) ?? []).length >= 700_000, true, 'every byte of the first body is in some file');
  for (const f of files) assert.ok(readFileSync(join(d, f)).length <= 1024 * 1024 + 64 * 1024, `${f} not much over 1 MB`);
  cleanup(d);
});

test('eCaptureQ: two clients both get heartbeats and events', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'curl', 'openssl')) return;
  const qport = await freePort();
  const cap = await capture(['tls', '--ecaptureq', `ws://127.0.0.1:${qport}/`, '--eventaddr', '/dev/null']);
  const root = await loadProto();
  const LogEntry = root.lookupType('event.LogEntry');
  const got: Record<string, unknown>[][] = [[], []];
  const clients = [0, 1].map((i) => {
    const ws = new WebSocket(`ws://127.0.0.1:${qport}/`);
    ws.on('message', (d: Buffer) => got[i]!.push(LogEntry.toObject(LogEntry.decode(d), { enums: String, bytes: String, longs: Number }) as Record<string, unknown>));
    return ws;
  });
  await Promise.all(clients.map((ws) => new Promise((r) => ws.on('open', r))));
  await curl('f20.txt');
  await sleep(600);
  for (const ws of clients) ws.close();
  await cap.stop();
  for (const g of got) {
    assert.ok(g.some((e) => e.logType === 'LOG_TYPE_HEARTBEAT'), 'heartbeat');
    assert.ok(g.some((e) => e.logType === 'LOG_TYPE_PROCESS_LOG'), 'run log replay');
    assert.ok(g.some((e) => e.logType === 'LOG_TYPE_EVENT'), 'events');
  }
});

test('HTTP config API: status codes, and a new --pid takes effect within a second with no event lost', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'curl', 'openssl')) return;
  const aport = await freePort();
  const events = join(dir, 'api-events.txt');
  const cap = await capture(['tls', '--listen', `127.0.0.1:${aport}`, '--eventaddr', events]);
  const api = async (method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> => {
    const r = await fetch(`http://127.0.0.1:${aport}${path}`, { method, body, headers: { 'content-type': 'application/json', ...headers } });
    return { status: r.status, json: (await r.json()) as Record<string, unknown> };
  };
  assert.equal((await api('POST', '/tls', '{"pid": ')).status, 400, 'malformed JSON');
  assert.equal((await api('POST', '/tls', '{"pid": "x"}')).status, 400, 'schema failure');
  const bad = await api('POST', '/tls', '{"nosuch": 1}');
  assert.equal(bad.status, 400);
  assert.match(String(bad.json.msg), /nosuch/, 'names the field');
  assert.equal((await api('POST', '/nosuchmodule', '{}')).status, 404, 'unknown module');
  assert.equal((await api('GET', '/config')).status, 200);

  // two long-lived clients make requests in a loop; the filter switches from everyone to client B
  const py = (tag: string): Proc =>
    startProcess('/usr/bin/python3', ['-c', `import ssl,time,urllib.request as u\nc=ssl._create_unverified_context()\nfor i in range(1,61):\n  u.urlopen("https://127.0.0.1:${port}/f32.txt?${tag}="+str(i),context=c).read(); print(i, flush=True); time.sleep(0.05)\n`]);
  const pa = py('a');
  const pb = py('b');
  await waitFor('clients running', () => /\b5\n/.test(pa.stdout()) && /\b5\n/.test(pb.stdout()), 10_000);
  const t0 = Date.now();
  const r = await api('POST', '/tls', JSON.stringify({ pid: pb.pid }));
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.code, 0);
  assert.ok(Date.now() - t0 < 1000, 'applied within a second');
  const switchedAt = Number(/(\d+)\n$/.exec(pa.stdout())?.[1] ?? 0);
  await Promise.all([pa.exited, pb.exited]);
  await sleep(300);
  const stats = await api('GET', '/stats');
  assert.equal(stats.status, 200);
  assert.ok(typeof (stats.json.data as Record<string, unknown>)?.events === 'number' || typeof stats.json.events === 'number', JSON.stringify(stats.json).slice(0, 200));
  await cap.stop();
  const out = readFileSync(events, 'latin1');
  // the clients' own request lines (s_server's reads of them carry its pid: its SSL BIO calls are hooked too)
  const seen = (tag: string, pid: number): number[] => {
    const out2: number[] = [];
    let who = 0;
    for (const line of out.split('\n')) {
      const h = /\bPID:(\d+)/.exec(line);
      if (h) who = Number(h[1]);
      const m = new RegExp(`^GET /f32\\.txt\\?${tag}=(\\d+) `).exec(line);
      if (m && who === pid) out2.push(Number(m[1]));
    }
    return out2;
  };
  const A = seen('a', pa.pid);
  const B = seen('b', pb.pid);
  // A: captured only before the switch, and every one of those requests (no hole)
  assert.ok(A.length > 0 && A.every((i) => i <= switchedAt + 2), `A stops at the switch (${A.at(-1)} vs ${switchedAt})`);
  assert.deepEqual(A, Array.from({ length: A.length }, (_, i) => i + 1), 'A: no request lost before the switch');
  // B: every request from shortly after the switch to the end
  const firstB = Math.min(...B.filter((i) => i > 1 || B.length === 1));
  const lastB = Math.max(...B);
  assert.equal(lastB, 60, 'B captured to the end');
  const tail = B.filter((i) => i >= firstB);
  assert.deepEqual(tail, Array.from({ length: 61 - firstB }, (_, i) => firstB + i), 'B: no request lost after the switch');
});

test('HTTP config API: a token is required when set (and for any non-loopback bind)', async (t) => {
  if (!canRunBpf(t)) return;
  const aport = await freePort();
  const cap = await capture(['tls', '--libssl', '/usr/lib/x86_64-linux-gnu/libssl.so.3', '--listen', `127.0.0.1:${aport}`, '--api-token', 's3cret', '--eventaddr', '/dev/null']);
  const get = (h: Record<string, string>): Promise<number> => fetch(`http://127.0.0.1:${aport}/config`, { headers: h }).then((r) => r.status);
  assert.equal(await get({}), 401);
  assert.equal(await get({ authorization: 'Bearer wrong' }), 401);
  assert.equal(await get({ authorization: 'Bearer s3cret' }), 200);
  await cap.stop();
  // a non-loopback bind without a token is refused before anything is attached
  const r = spawnSync(process.execPath, [CLI, 'tls', '--listen', `0.0.0.0:${aport}`], { encoding: 'utf8', env: { ...process.env, ECAPTURE_API_TOKEN: '' } });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /token/i);
});
