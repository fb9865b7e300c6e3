/**
 * pcap mode under load: nginx (1 worker, HTTPS on 127.0.0.1) driven by wrk while `ecapture tls -m pcap -i lo`
 * writes every packet of that port to a pcapng file on tmpfs (so the disk is not measured). Reported: packets/s
 * and MB/s written, kernel drops (ring buffer full), and wrk's rate with and without the capture; for small
 * responses (many small packets) and 64 KiB responses (throughput). Then where the pcap filter runs: a filter
 * that rejects all of the load, in the kernel (classic BPF interpreter in the TC program) and in userspace
 * (libpcap's bpf_filter on every packet the kernel sends), compared by the capture process's CPU time and by the
 * packets that had to cross to userspace. First of all, the userspace half alone on one core (synthetic events),
 * the ceiling that does not depend on how busy the machine is.
 *
 *   node dist/bench/run.js pcap          (root; nginx, wrk, openssl)
 *   ECAPTURE_BENCH_SECONDS=10            duration of each run (default 8)
 */
import { spawn } from 'node:child_process';
import { have, sleep, startNginx, stop, wrk } from './load.js';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../src/util/paths.js';
import { EventHdrLayout, EventKind, PacketEventLayout, PktFlags } from '../src/gen/events.js';
import { buildBatch, forEachSample } from '../src/bpf/ringbuf.js';
import { createLogger } from '../src/log.js';
import { LINKTYPE_ETHERNET } from '../src/output/pcapng/blocks.js';
import { ether, ipv4Tcp } from '../src/output/pcapng/test-helpers.js';
import { PcapngWriter } from '../src/output/pcapng/writer.js';
import { PacketCapture } from '../src/probes/tls/packets.js';
import type { BenchResult } from './types.js';

const CLI = join(projectRoot, 'dist', 'ecapture.mjs'); // what bin/ecapture runs
/** utime + stime of a process, ms */
function cpuMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // clock ticks: 100/s on Linux
  } catch {
    return NaN;
  }
}

interface CaptureRun {
  seconds: number;
  rps: number;
  packets: number;
  fileBytes: number;
  seen: number;
  sent: number;
  ringFull: number;
  cpuMs: number;
}

/** One capture of `filter` on lo during a wrk run against `url`. */
async function captureRun(dir: string, filter: string[], url: string, seconds: number, env: NodeJS.ProcessEnv = {}): Promise<CaptureRun> {
  const shm = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const out = join(shm, `ecap-bench-${process.pid}.pcapng`);
  const keys = join(dir, 'keys.log');
  rmSync(out, { force: true });
  const cap = spawn(process.execPath, [CLI, 'tls', '-m', 'pcap', '-i', 'lo', '-w', out, '-k', keys, '--eventaddr', '/dev/null', ...filter], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  let err = '';
  cap.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const t0 = Date.now();
  while (!/capture started/.test(err)) {
    if (cap.exitCode !== null || Date.now() - t0 > 30_000) throw new Error(`capture did not start: ${err.slice(-500)}`);
    await sleep(50);
  }
  const cpu0 = cpuMs(cap.pid!);
  const rps = wrk(url, seconds);
  await sleep(300);
  const cpu1 = cpuMs(cap.pid!);
  await stop(cap, 'SIGINT', 20_000);
  const line = /pcapng written (.*)|nothing captured on \S+: .*?(pcapfile=.*)/.exec(err)?.[0] ?? '';
  const num = (k: string): number => Number(new RegExp(`\\b${k}=(\\d+)`).exec(line)?.[1] ?? NaN);
  const fileBytes = existsSync(out) ? statSync(out).size : 0;
  rmSync(out, { force: true });
  return { seconds, rps, packets: num('packets'), fileBytes, seen: num('seen'), sent: num('sent'), ringFull: num('ringFull'), cpuMs: cpu1 - cpu0 };
}

/**
 * The userspace half alone, on one core: ring-buffer-shaped batches of packet events → PacketCapture → pcapng on
 * tmpfs. The ceiling of what a capture can write when it has a core to itself (independent of nginx and wrk).
 */
function userspaceCeiling(): BenchResult[] {
  const shm = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const out: BenchResult[] = [];
  for (const [label, payload, count] of [['100-byte', 100, 200_000], ['1500-byte', 1434, 100_000], ['64 KiB', 65_000, 8_000]] as const) {
    const path = join(shm, `ecap-bench-user-${process.pid}.pcapng`);
    const writer = new PcapngWriter({ path, flushIntervalMs: 0, flushBytes: 1 << 20 });
    const interfaceId = writer.addInterface({ linkType: LINKTYPE_ETHERNET, name: 'lo' });
    const pc = PacketCapture.withoutKernel({
      config: {}, iface: { name: 'lo', ifindex: 1, arphrd: 772, flags: 9, up: true, loopback: true, addresses: [], linkType: LINKTYPE_ETHERNET },
      interfaceId, snaplen: 65792, writer, wallClock: (m) => BigInt(m) + 1_700_000_000_000_000_000n, log: createLogger({ level: 'error' }),
    });
    const frame = ether(ipv4Tcp('127.0.0.1', 50000, '127.0.0.1', 443, Buffer.alloc(payload, 0x17)));
    const sample = Buffer.alloc(PacketEventLayout.DATA_OFFSET + frame.length);
    sample.writeUInt32LE(EventKind.EVENT_PACKET, 0);
    sample.writeUInt32LE(4242, EventHdrLayout.fields.find((f) => f.name === 'pid')!.offset);
    sample.write('curl', EventHdrLayout.fields.find((f) => f.name === 'comm')!.offset, 'latin1');
    const L = Object.fromEntries(PacketEventLayout.fields.map((f) => [f.name, f.offset]));
    sample.writeUInt32LE(PktFlags.PKT_OWNER | PktFlags.PKT_SENDER | PktFlags.PKT_EGRESS, L.pkt_flags!);
    sample.writeUInt32LE(frame.length, L.len!);
    sample.writeUInt32LE(frame.length, L.cap_len!);
    frame.copy(sample, PacketEventLayout.DATA_OFFSET);
    const perBatch = Math.max(1, Math.floor((4 << 20) / (sample.length + 8)));
    const batches: Buffer[] = [];
    for (let i = 0; i < count; i += perBatch) batches.push(buildBatch(Array.from({ length: Math.min(perBatch, count - i) }, () => sample)));
    const t0 = performance.now();
    for (const b of batches) forEachSample(b, perBatch, (s) => pc.handle(s));
    writer.close();
    const sec = (performance.now() - t0) / 1000;
    const bytes = statSync(path).size;
    rmSync(path, { force: true });
    out.push(
      { name: `userspace alone, ${label} frames: packets written (one core)`, value: Math.round(count / sec), unit: 'pkt/s' },
      { name: `userspace alone, ${label} frames: bytes written (one core)`, value: Math.round(bytes / sec / 1e6), unit: 'MB/s' },
    );
  }
  return out;
}

export async function benchPcap(opts: { seconds?: number } = {}): Promise<BenchResult[]> {
  const seconds = opts.seconds ?? Number(process.env.ECAPTURE_BENCH_SECONDS ?? 8);
  const ceiling = userspaceCeiling();
  if (process.getuid?.() !== 0) return [...ceiling, { name: 'pcap under wrk: skipped (needs root)', value: 0, unit: '' }];
  for (const c of ['nginx', 'wrk', 'openssl']) {
    if (!have(c)) return [...ceiling, { name: `pcap under wrk: skipped (${c} not installed; scripts/setup.sh --bench)`, value: 0, unit: '' }];
  }
  const dir = mkdtempSync(join(tmpdir(), 'ecap-bench-pcap-'));
  chmodSync(dir, 0o755);
  const port = 20000 + ((process.pid + 7919) % 20000);
  const nginx = startNginx(dir, port, { files: { 'small.html': 'hello from nginx\n', 'big.bin': Buffer.alloc(64 << 10, 0x61) }, keepaliveRequests: 1000000 });
  const results: BenchResult[] = [...ceiling];
  try {
    await sleep(500);
    const small = `https://127.0.0.1:${port}/small.html`;
    const big = `https://127.0.0.1:${port}/big.bin`;
    wrk(small, 2); // warm-up
    const bare = wrk(small, seconds);
    const port_ = ['tcp', 'port', String(port)];

    const s = await captureRun(dir, port_, small, seconds);
    results.push(
      { name: 'nginx+wrk small responses, no capture', value: Math.round(bare), unit: 'req/s' },
      { name: 'nginx+wrk small responses, pcap -i lo capturing', value: Math.round(s.rps), unit: 'req/s' },
      { name: 'pcap small packets: packets written', value: Math.round(s.packets / s.seconds), unit: 'pkt/s' },
      { name: 'pcap small packets: bytes written', value: Math.round((s.fileBytes / s.seconds / 1e6) * 10) / 10, unit: 'MB/s' },
      { name: 'pcap small packets: kernel drops (ring full)', value: s.ringFull, unit: 'packets', target: '0' },
      { name: 'pcap small packets: capture CPU per 1000 packets', value: Math.round((s.cpuMs / Math.max(1, s.packets)) * 1000 * 100) / 100, unit: 'ms' },
    );

    const b = await captureRun(dir, port_, big, seconds);
    results.push(
      { name: 'pcap 64 KiB responses: packets written', value: Math.round(b.packets / b.seconds), unit: 'pkt/s' },
      { name: 'pcap 64 KiB responses: bytes written', value: Math.round((b.fileBytes / b.seconds / 1e6) * 10) / 10, unit: 'MB/s' },
      { name: 'pcap 64 KiB responses: kernel drops (ring full)', value: b.ringFull, unit: 'packets', target: '0' },
      { name: 'pcap 64 KiB responses: wrk with capture', value: Math.round(b.rps), unit: 'req/s' },
    );

    // a filter that rejects the whole load: where it runs decides what the load costs the capture
    const reject = ['udp', 'port', '9'];
    const k = await captureRun(dir, reject, small, seconds);
    const u = await captureRun(dir, reject, small, seconds, { ECAPTURE_PCAP_FILTER: 'user' });
    const cpuPct = (r: CaptureRun): number => Math.round((r.cpuMs / (r.seconds * 1000)) * 1000) / 10;
    results.push(
      { name: 'filter rejecting the load, in the kernel: capture process CPU', value: cpuPct(k), unit: '%' },
      { name: 'filter rejecting the load, in userspace (libpcap): capture process CPU', value: cpuPct(u), unit: '%' },
      { name: 'filter rejecting the load, in the kernel: packets sent to userspace', value: k.sent, unit: 'packets' },
      { name: 'filter rejecting the load, in userspace: packets sent to userspace', value: u.sent, unit: 'packets' },
      { name: 'filter rejecting the load: wrk with kernel filter', value: Math.round(k.rps), unit: 'req/s' },
      { name: 'filter rejecting the load: wrk with userspace filter', value: Math.round(u.rps), unit: 'req/s' },
      { name: 'filter rejecting the load: userspace filter drops (ring full)', value: u.ringFull, unit: 'packets' },
    );
  } finally {
    if (nginx.exitCode === null) {
      const done = new Promise((r) => nginx.on('exit', r));
      nginx.kill('SIGQUIT');
      await Promise.race([done, sleep(10_000)]);
    }
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
