/**
 * Output throughput on one core: encoder alone (json, protobuf), then encoder × sink (file, tcp to a local
 * discard server) until the last byte is written / received. Input: TLS data records with 512-byte HTTP-like
 * payloads. The producer hands the sink 512 events per event-loop turn, like a ring-buffer batch callback.
 *   node dist/bench/run.js outputs
 */
import { existsSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CaptureRecord } from '../src/model/records.js';
import { JsonEncoder } from '../src/output/encoders/json.js';
import { ProtobufEncoder } from '../src/output/encoders/protobuf.js';
import { dataRecord } from '../src/output/encoders/sample-records.js';
import { encodeText } from '../src/output/encoders/text.js';
import type { Encoder } from '../src/output/encoders/types.js';
import { FileSink } from '../src/output/sinks/file.js';
import { TcpSink } from '../src/output/sinks/tcp.js';
import type { Sink } from '../src/output/sinks/types.js';
import type { BenchResult } from './types.js';

const PAYLOAD = 512;
const BATCH = 512;

function textOf(rec: CaptureRecord): Buffer {
  const t = encodeText(rec);
  if (Array.isArray(t)) return Buffer.concat(t.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
  return typeof t === 'string' ? Buffer.from(t) : t;
}

function encoders(): Array<[string, Encoder]> {
  return [['json', new JsonEncoder()], ['protobuf', new ProtobufEncoder(textOf)]];
}

const records = Array.from({ length: 1024 }, (_, i) => dataRecord(i, PAYLOAD));
const turn = () => new Promise<void>((r) => setImmediate(r));

function encodeOnly(enc: Encoder, n: number): number {
  let bytes = 0;
  for (let i = 0; i < n / 10; i++) bytes += enc.encode(records[i % records.length]!).length; // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) bytes += enc.encode(records[i % records.length]!).length;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (bytes < 0) throw new Error('unreachable');
  return n / s;
}

async function throughSink(enc: Encoder, sink: Sink, n: number, received?: () => number): Promise<{ rate: number; dropped: number }> {
  const t0 = process.hrtime.bigint();
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const c = enc.encode(records[i % records.length]!);
    bytes += typeof c === 'string' ? Buffer.byteLength(c) : c.length;
    sink.write(c);
    if (i % BATCH === BATCH - 1) await turn();
  }
  await sink.flush(60_000);
  if (received) while (received() < sink.stats().bytes) await new Promise((r) => setTimeout(r, 1));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const dropped = sink.stats().dropped;
  await sink.close();
  if (bytes <= 0) throw new Error('nothing encoded');
  return { rate: n / s, dropped };
}

async function discardServer(): Promise<{ port: number; bytes: () => number; close: () => Promise<void> }> {
  let bytes = 0;
  const socks = new Set<net.Socket>();
  const server = net.createServer((s) => {
    socks.add(s);
    s.on('data', (d: Buffer) => (bytes += d.length));
    s.on('close', () => socks.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    bytes: () => bytes,
    close: () => new Promise<void>((r) => {
      for (const s of socks) s.destroy();
      server.close(() => r());
    }),
  };
}

const round = (v: number) => Math.round(v);

export async function benchOutputs(): Promise<BenchResult[]> {
  const n = Number(process.env.ECAPTURE_BENCH_OUTPUT_EVENTS ?? 200_000);
  const dir = process.env.ECAPTURE_BENCH_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
  const out: BenchResult[] = [];
  for (const [name, enc] of encoders()) {
    out.push({ name: `encode ${name} (${PAYLOAD} B payload)`, value: round(encodeOnly(enc, n)), unit: 'events/s' });
  }
  for (const [name, enc] of encoders()) {
    const file = join(dir, `ecap-bench-out-${process.pid}.${name}`);
    rmSync(file, { force: true });
    try {
      const r = await throughSink(enc, new FileSink(file), n);
      out.push({ name: `${name} → file${r.dropped ? ` (${r.dropped} dropped)` : ''}`, value: round(r.rate), unit: 'events/s' });
    } finally {
      rmSync(file, { force: true });
    }
  }
  for (const [name, enc] of encoders()) {
    const srv = await discardServer();
    try {
      const sink = new TcpSink(`tcp://127.0.0.1:${srv.port}`);
      while (!sink.stats().connected) await new Promise((r) => setTimeout(r, 1));
      const r = await throughSink(enc, sink, n, srv.bytes);
      out.push({ name: `${name} → tcp (local)${r.dropped ? ` (${r.dropped} dropped)` : ''}`, value: round(r.rate), unit: 'events/s' });
    } finally {
      await srv.close();
    }
  }
  return out;
}

// run directly: node dist/bench/outputs.js
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  benchOutputs().then((rs) => {
    for (const r of rs) process.stdout.write(`${r.name.padEnd(34)} ${r.value.toLocaleString('en-US').padStart(12)} ${r.unit}\n`);
  }).catch((e: unknown) => {
    process.stderr.write(`${String(e)}\n`);
    process.exitCode = 1;
  });
}
