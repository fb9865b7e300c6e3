/**
 * Pipeline throughput on one core, from a recorded-shape event stream: ring-buffer batches of
 * tls_data_event samples → split → decode → pipeline → text encoder → file. This is everything the
 * capture process does per event after the kernel hands it over. Each figure is the best of three runs.
 */
import { existsSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventFlags, EventKind, TlsDataEventLayout } from '../src/gen/events.js';
import { buildBatch, forEachSample } from '../src/bpf/ringbuf.js';
import { TlsDataDecoder } from '../src/probes/common/tls-data.js';
import { GapStage, Pipeline } from '../src/capture/pipeline.js';
import { EncodedOutput } from '../src/capture/encoded-output.js';
import { makeEncoder } from '../src/capture/outputs.js';
import { createSink } from '../src/output/sinks/factory.js';
import { createStage } from '../src/conn/stage.js';
import type { BenchResult } from './types.js';

/** CPU time (user + system) of the timed part of the last run: a figure that other load on the machine disturbs less. */
export let lastCpuSeconds = 0;

const F = Object.fromEntries(TlsDataEventLayout.fields.map((f) => [f.name, f.offset]));

/** A realistic sample: header, tuple, payload of HTTP-ish printable text. */
export function makeSample(payloadLen: number, seq: number, dir: 0 | 1): Buffer {
  const b = Buffer.alloc(TlsDataEventLayout.PAYLOAD_OFFSET + payloadLen);
  b.writeUInt32LE(EventKind.EVENT_TLS_DATA, 0);
  b.writeUInt32LE(EventFlags.EVF_TUPLE | EventFlags.EVF_LAST_CHUNK, 4);
  b.writeBigUInt64LE(123456789000n + BigInt(seq), 8);
  b.writeUInt32LE(4242, 16);
  b.writeUInt32LE(4242, 20);
  b.writeUInt32LE(1000, 24);
  b.write('curl', 40, 'latin1');
  b.writeBigUInt64LE(0x55d0c0ffee00n, F.conn_id!);
  b.writeBigUInt64LE(BigInt(seq), F.seq!);
  b.writeInt32LE(5, F.fd!);
  b.writeUInt32LE(dir, F.dir!);
  b.writeUInt32LE(payloadLen, F.call_len!);
  b.writeUInt32LE(payloadLen, F.payload_len!);
  const t = F.tuple!;
  b.writeUInt16LE(2, t);
  b.writeUInt16LE(50000, t + 2);
  b.writeUInt16LE(443, t + 4);
  Buffer.from([127, 0, 0, 1]).copy(b, t + 8);
  Buffer.from([127, 0, 0, 1]).copy(b, t + 24);
  const line = 'GET /index.html HTTP/1.1\r\nHost: example.test\r\nAccept: */*\r\nX-Filler: abcdefghijklmnopqrstuvwxyz0123456789\r\n';
  for (let i = 0; i < payloadLen; i++) b[TlsDataEventLayout.PAYLOAD_OFFSET + i] = line.charCodeAt(i % line.length);
  return b;
}

/** A keep-alive HTTP/1.1 exchange as the samples of one connection: request (write) and response (read). */
function httpSamples(n: number): Buffer[] {
  const out: Buffer[] = [];
  const req = Buffer.from('GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:9443\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n');
  const resp = Buffer.from('HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Thu, 26 Nov 2026 02:44:53 GMT\r\nContent-Type: text/html\r\nContent-Length: 17\r\nConnection: keep-alive\r\n\r\nhello from nginx\n');
  let wseq = 0;
  let rseq = 0;
  for (let i = 0; i < n; i++) {
    const a = makeSample(req.length, wseq, 1);
    req.copy(a, TlsDataEventLayout.PAYLOAD_OFFSET);
    wseq += req.length;
    const b = makeSample(resp.length, rseq, 0);
    resp.copy(b, TlsDataEventLayout.PAYLOAD_OFFSET);
    rseq += resp.length;
    out.push(a, b);
  }
  return out;
}

/** The default output path: ConnTracker (HTTP parsing) → text of each message → file. */
export async function runParsed(events: number): Promise<number> {
  const out = join(process.env.ECAPTURE_BENCH_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir()), `ecap-bench-${process.pid}.txt`);
  rmSync(out, { force: true });
  const { stage, formatL7 } = createStage({}, { ordered: true });
  const pipeline = new Pipeline(stage);
  const sink = createSink(out, { maxBufferBytes: 256 << 20 });
  pipeline.addOutput(new EncodedOutput('bench', makeEncoder({ format: 'text' }, out, formatL7), sink));
  const decoder = new TlsDataDecoder('tls', (m) => BigInt(m) + 1_700_000_000_000_000_000n, pipeline.push);
  // one connection's stream, cut in batches; replayed with growing sequence numbers would need new samples,
  // so the whole run is pre-built (2 samples per request)
  const all = httpSamples(events / 2);
  const batches: Buffer[] = [];
  for (let i = 0; i < all.length; i += 256) batches.push(buildBatch(all.slice(i, i + 256)));
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for (const b of batches) {
    forEachSample(b, 256, (s) => decoder.handle(s));
    await new Promise((r) => setImmediate(r));
  }
  pipeline.tick(1n << 62n);
  await pipeline.finish();
  await sink.close();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  lastCpuSeconds = (cpu.user + cpu.system) / 1e6;
  rmSync(out, { force: true });
  return events / seconds;
}

export async function runOnce(payloadLen: number, events: number, perBatch: number): Promise<{ seconds: number; bytes: number }> {
  const out = join(process.env.ECAPTURE_BENCH_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir()), `ecap-bench-${process.pid}.txt`);
  rmSync(out, { force: true });
  // the real output path of `ecapture tls --raw --eventaddr FILE`: text encoder × file sink
  const pipeline = new Pipeline(new GapStage());
  const sink = createSink(out, { maxBufferBytes: 256 << 20 });
  pipeline.addOutput(new EncodedOutput('bench', makeEncoder({ format: 'text' }, out), sink));
  const decoder = new TlsDataDecoder('tls', (m) => BigInt(m) + 1_700_000_000_000_000_000n, pipeline.push);
  // pre-build a few batches (what the native addon hands over) and replay them, so only userspace work is timed
  const distinct: Buffer[] = [];
  let seq = 0;
  for (let i = 0; i < 8; i++) {
    const samples: Buffer[] = [];
    for (let j = 0; j < perBatch; j++) {
      samples.push(makeSample(payloadLen, seq, 1));
      seq += payloadLen;
    }
    distinct.push(buildBatch(samples));
  }
  const batches: Buffer[] = [];
  for (let i = 0; i * perBatch < events; i++) batches.push(distinct[i % distinct.length]!);
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for (const b of batches) {
    forEachSample(b, perBatch, (s) => decoder.handle(s));
    // let the sink's pump run between batches, as the event loop does between ring-buffer wakeups
    await new Promise((r) => setImmediate(r));
  }
  await sink.close();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  lastCpuSeconds = (cpu.user + cpu.system) / 1e6;
  const bytes = statSync(out).size;
  rmSync(out, { force: true });
  if (sink.stats().dropped > 0) throw new Error(`bench sink dropped ${sink.stats().dropped} chunks`);
  return { seconds, bytes };
}

/**
 * The best of three timed runs: on this shared VM one single run in about five came out ~40 % low (the
 * figure wanted is that of an uncontended core, as in the parser benchmarks).
 */
async function bestOf3<T>(run: () => Promise<T>, better: (a: T, b: T) => boolean): Promise<T> {
  let best = await run();
  for (let i = 0; i < 2; i++) {
    const r = await run();
    if (better(r, best)) best = r;
  }
  return best;
}

export async function benchPipeline(): Promise<BenchResult[]> {
  const faster = (a: { seconds: number }, b: { seconds: number }): boolean => a.seconds < b.seconds;
  await runOnce(100, 50_000, 512); // warm-up
  const small = await bestOf3(() => runOnce(100, 1_000_000, 512), faster);
  await runOnce(16384, 2_000, 64);
  const big = await bestOf3(() => runOnce(16384, 60_000, 64), faster);
  await runParsed(20_000);
  const parsed = await bestOf3(() => runParsed(200_000), (a, b) => a > b);
  return [
    { name: 'pipeline: HTTP/1.1 keep-alive events, parsed (tracker + HTTP + text of messages + file)', value: Math.round(parsed), unit: 'events/s' },
    { name: 'pipeline: 100-byte events, decode + text format + file', value: Math.round(1_000_000 / small.seconds), unit: 'events/s', target: '>= 300000 events/s' },
    { name: 'pipeline: 16 KiB events, decode + text format + file', value: Math.round((60_000 * 16384) / big.seconds / 1e6), unit: 'MB/s', target: '>= 1000 MB/s' },
  ];
}
