import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import WebSocket from 'ws';
import { ECaptureQServer, parseECaptureQUrl } from './ecaptureq.js';
import { dataRecord, sampleRecords } from '../output/encoders/sample-records.js';
import type { CaptureRecord } from '../model/records.js';

// independent decoder: the .proto text parsed at test time
const root = fileURLToPath(new URL('../../../', import.meta.url));
const LogEntry = protobuf.parse(readFileSync(`${root}proto/ecaptureq.proto`, 'utf8'), { keepCase: true }).root.lookupType('event.LogEntry');
type Entry = Record<string, any>;
const decode = (b: Buffer): Entry => LogEntry.toObject(LogEntry.decode(b), { longs: Number, enums: Number, defaults: true, oneofs: true });

const textOf = (r: CaptureRecord) => Buffer.from(`text of ${r.type}`);

class Client {
  readonly entries: Entry[] = [];
  readonly ws: WebSocket;
  binaryOnly = true;
  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('message', (d: Buffer, isBinary: boolean) => {
      if (!isBinary) this.binaryOnly = false;
      this.entries.push(decode(d));
    });
  }
  opened(): Promise<void> {
    return new Promise((r, j) => this.ws.once('open', () => r()).once('error', j));
  }
  of(kind: 'heartbeat_payload' | 'run_log' | 'event_payload'): Entry[] {
    return this.entries.filter((e) => e.payload === kind);
  }
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timeout');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('parseECaptureQUrl', () => {
  assert.deepEqual(parseECaptureQUrl('ws://127.0.0.1:28257/'), { host: '127.0.0.1', port: 28257 });
  assert.throws(() => parseECaptureQUrl('http://127.0.0.1:1/'), { code: 'ECAP_CONFIG_FLAG' });
  assert.throws(() => parseECaptureQUrl('ws://127.0.0.1/'), { code: 'ECAP_CONFIG_FLAG' });
});

test('two clients: both get heartbeats (count from 0), the replayed run log, then live logs and events', async (t) => {
  const srv = new ECaptureQServer({ heartbeatMs: 40, now: () => 1_782_036_672_500 });
  t.after(() => srv.close());
  const { port } = await srv.start('ws://127.0.0.1:0/');
  srv.pushLog('banner line 1');
  srv.pushLog('banner line 2');
  const a = new Client(`ws://127.0.0.1:${port}/`);
  const b = new Client(`ws://127.0.0.1:${port}/`);
  await Promise.all([a.opened(), b.opened()]);
  const recs = sampleRecords();
  await until(() => a.entries.length >= 3 && b.entries.length >= 3);
  srv.pushLog('live line');
  for (const r of recs) srv.pushEvent(r, textOf);
  await until(() => [a, b].every((c) => c.of('event_payload').length === recs.length && c.of('heartbeat_payload').length >= 3));
  for (const c of [a, b]) {
    assert.ok(c.binaryOnly, 'binary frames only');
    assert.equal(c.entries[0]!.payload, 'heartbeat_payload', 'heartbeat first');
    const beats = c.of('heartbeat_payload').map((e) => e.heartbeat_payload);
    beats.forEach((h, i) => assert.deepEqual(h, { timestamp: 1782036672, count: i, message: `heartbeat:${i}` }));
    assert.deepEqual(c.of('run_log').map((e) => [e.log_type, e.run_log]), [[1, 'banner line 1'], [1, 'banner line 2'], [1, 'live line']]);
    const events = c.of('event_payload');
    events.forEach((e, i) => {
      assert.equal(e.log_type, 2);
      assert.equal(e.event_payload.pid, 4242);
      assert.equal(e.event_payload.pname, 'curl');
      assert.deepEqual(Buffer.from(e.event_payload.payload), textOf(recs[i]!));
    });
    assert.equal(events[0]!.event_payload.src_ip, '10.0.0.2');
    assert.equal(events[7]!.event_payload.type, 1);
  }
  assert.equal(srv.stats().clients, 2);
  a.ws.close();
  b.ws.close();
});

test('replay: only the first 128 run-log lines are replayed to a late client', async (t) => {
  const srv = new ECaptureQServer({ heartbeatMs: 60_000 });
  t.after(() => srv.close());
  const { port } = await srv.start('ws://127.0.0.1:0/');
  for (let i = 0; i < 130; i++) srv.pushLog(`log ${i}`);
  const c = new Client(`ws://127.0.0.1:${port}/anything`);
  await c.opened();
  await until(() => c.of('run_log').length === 128);
  srv.pushLog('after');
  await until(() => c.of('run_log').length === 129);
  assert.deepEqual(c.of('run_log').map((e) => e.run_log), [...Array.from({ length: 128 }, (_, i) => `log ${i}`), 'after']);
  c.ws.close();
});

/** A WebSocket client that completes the handshake and then never reads. */
function stalledClient(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    s.once('data', (d) => {
      if (!d.toString().startsWith('HTTP/1.1 101')) reject(new Error('no upgrade'));
      s.pause();
      resolve(s);
    });
    s.on('error', () => {});
  });
}

test('a client that stops reading is dropped; the capture never waits and other clients get everything', async (t) => {
  const srv = new ECaptureQServer({ heartbeatMs: 60_000, maxClientBufferBytes: 2 * 1024 * 1024, maxClientQueue: 1000 });
  t.after(() => srv.close());
  const { port } = await srv.start('ws://127.0.0.1:0/');
  const slow = await stalledClient(port);
  t.after(() => slow.destroy());
  const good = new Client(`ws://127.0.0.1:${port}/`);
  await good.opened();
  await until(() => srv.stats().clients === 2);
  const N = 3000; // × 8 KiB: more than the loopback socket buffers hold
  const big = Buffer.alloc(8192, 0x61);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    srv.pushEvent(dataRecord(i, 16), () => big);
    if (i % 50 === 0) await new Promise((r) => setImmediate(r));
  }
  const pushMs = Number(process.hrtime.bigint() - t0) / 1e6;
  await until(() => good.of('event_payload').length === N || srv.stats().droppedClients > 1, 10_000);
  const st = srv.stats();
  assert.equal(st.droppedClients, 1);
  assert.equal(st.clients, 1);
  assert.equal(st.events, N);
  assert.ok(pushMs < 5000, `pushing took ${pushMs} ms`);
  good.ws.close();
});

test('listen failure is a CaptureError naming the flag', async (t) => {
  const a = new ECaptureQServer();
  t.after(() => a.close());
  const { port } = await a.start('ws://127.0.0.1:0/');
  const b = new ECaptureQServer();
  await assert.rejects(b.start(`ws://127.0.0.1:${port}/`), (e: { code?: string; message?: string }) =>
    e.code === 'ECAP_SERVER' && /listen failed/.test(e.message!));
});
