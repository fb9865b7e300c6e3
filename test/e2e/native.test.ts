// End-to-end tests of the native addon (native/index.d.ts) against the real kernel, with the fixtures
// bpf/test/fixture.bpf.c and bpf/test/bad.bpf.c. Needs root; skips otherwise, unless
// ECAPTURE_E2E_REQUIRED=1, which turns every skip into a failure.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Native from '../../native/index.js';

type Addon = typeof Native;
type BpfObject = Native.BpfObject;
type NativeError = Native.NativeError;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const ADDON = path.join(ROOT, 'native', 'build', 'Release', 'ecapture_native.node');
const FIXTURE = path.join(ROOT, 'build', 'bpf', 'test', 'fixture.bpf.o');
const BAD = path.join(ROOT, 'build', 'bpf', 'test', 'bad.bpf.o');
const LIBC = `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu/libc.so.6`;
const MAGIC = 0xec0ffee5;
const KIND = { tracepoint: 1, uprobe: 2, uretprobe: 3 } as const;
const OUR_PROGS = ['tp_getpid', 'probe_entry', 'probe_return', 'raw_sys_enter', 'kprobe_nanosleep', 'tc_count'];

// --- skip helper (to be replaced by test/e2e/harness.ts) -------------------------------------------------
/** Returns true (after t.skip) when `reason` is set; under ECAPTURE_E2E_REQUIRED=1 a skip is a failure. */
function skipIf(t: TestContext, reason: string | null): boolean {
  if (reason === null) return false;
  if (process.env.ECAPTURE_E2E_REQUIRED === '1') assert.fail(`e2e test cannot run (ECAPTURE_E2E_REQUIRED=1): ${reason}`);
  t.skip(reason);
  return true;
}

let cached: Addon | undefined;
/** The addon, or undefined after skipping. `root`: the test also needs root and the BPF fixtures. */
function addon(t: TestContext, root = true): Addon | undefined {
  if (skipIf(t, existsSync(ADDON) ? null : `addon not built (${ADDON}); run make native`)) return undefined;
  if (root) {
    if (skipIf(t, process.getuid?.() === 0 ? null : 'needs root (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN)')) return undefined;
    if (skipIf(t, existsSync(FIXTURE) && existsSync(BAD) ? null : 'BPF fixtures not built; run make bpf')) return undefined;
  }
  cached ??= createRequire(import.meta.url)(ADDON) as Addon;
  return cached;
}

// --- helpers ---------------------------------------------------------------------------------------------------
interface Sample { len: number; magic: number; kind: number; knob: number; tgid: number; ts: bigint }

function parseBatch(batch: Buffer, count: number): Sample[] {
  const out: Sample[] = [];
  let off = 0;
  for (let i = 0; i < count; i++) {
    const len = batch.readUInt32LE(off);
    const p = off + 4;
    out.push({ len, magic: batch.readUInt32LE(p), kind: batch.readUInt32LE(p + 4), knob: batch.readUInt32LE(p + 8),
      tgid: batch.readUInt32LE(p + 12), ts: batch.readBigUInt64LE(p + 16) });
    off += (4 + len + 7) & ~7;
  }
  assert.equal(off, batch.length, 'batch length = sum of 8-byte aligned records');
  return out;
}

function u32(v: number): Buffer { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; }

async function waitFor(pred: () => boolean, ms = 3000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return pred();
}

/** A child process; its pid shows up in the samples (node calls getpid() and getuid() at startup). */
function child(code = ''): number {
  const r = spawnSync(process.execPath, ['-e', code], { stdio: 'ignore' });
  assert.equal(r.status, 0);
  return r.pid;
}

function open(a: Addon, knobs: { knob?: number; usePerf?: boolean } = {}): BpfObject {
  const o = new a.BpfObject(FIXTURE);
  o.setGlobal('knob', u32(knobs.knob ?? 0));
  o.setGlobal('use_perf', Buffer.from([knobs.usePerf ? 1 : 0]));
  o.setAutoload('kprobe_nanosleep', false);
  return o;
}

function expectNative(fn: () => unknown, errno: number | null, re: RegExp): NativeError {
  try { fn(); } catch (e) {
    const err = e as NativeError;
    assert.equal((err as unknown as { code: string }).code, 'ECAP_NATIVE', String(e));
    assert.ok(err.errno > 0 && typeof err.op === 'string', 'errno and op set');
    if (errno !== null) assert.equal(err.errno, errno, err.message);
    assert.match(err.message, re);
    assert.ok(err.message.startsWith(`${err.op}: `), 'message is "<op>: <reason>"');
    return err;
  }
  assert.fail('expected a NativeError');
}

function ensureTracefs(a: Addon): void {
  if (!existsSync('/sys/kernel/tracing/events')) a.mountFs('tracefs', '/sys/kernel/tracing');
}

/** File offset of a dynamic symbol, from readelf's symbol table and program headers. */
function symbolOffset(file: string, name: string): number {
  const syms = execFileSync('readelf', ['-W', '--dyn-syms', file], { encoding: 'utf8' });
  const line = syms.split('\n').find((l) => { const f = l.trim().split(/\s+/); return f[3] === 'FUNC' && f[7]?.split('@')[0] === name; });
  assert.ok(line, `${name} in ${file}`);
  const vaddr = parseInt(line.trim().split(/\s+/)[1]!, 16);
  for (const l of execFileSync('readelf', ['-W', '-l', file], { encoding: 'utf8' }).split('\n')) {
    const f = l.trim().split(/\s+/);
    if (f[0] !== 'LOAD') continue;
    const [off, va, memsz] = [parseInt(f[1]!, 16), parseInt(f[2]!, 16), parseInt(f[5]!, 16)];
    if (vaddr >= va && vaddr < va + memsz) return vaddr - va + off;
  }
  assert.fail(`no LOAD segment for ${name}`);
}

const tcQdiscs = (): string => execFileSync('tc', ['qdisc', 'show', 'dev', 'lo'], { encoding: 'utf8' });
const tcFilters = (dir: string): string => execFileSync('tc', ['filter', 'show', 'dev', 'lo', dir], { encoding: 'utf8' });

/** Loopback TCP traffic: a connection to a local server, some bytes each way. */
async function loopbackTraffic(): Promise<void> {
  const server = net.createServer((s) => s.on('data', (d) => s.end(d)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const c = net.connect(port, '127.0.0.1');
  await once(c, 'connect');
  c.end('hello over lo');
  for await (const _ of c) { /* drain the echo */ }
  server.close();
}

function pcpuTotal(o: BpfObject): bigint {
  const v = o.mapLookup('pcpu', u32(0));
  assert.ok(v);
  let sum = 0n;
  for (let off = 0; off < v.length; off += 8) sum += v.readBigUInt64LE(off);
  return sum;
}

// --- no root needed ---------------------------------------------------------------------------------------------
test('misc helpers: version, clocks, cpus, memlock, ifindex, cgroup id', (t) => {
  const a = addon(t, false);
  if (!a) return;
  assert.match(a.libbpfVersion(), /^\d+\.\d+$/);
  const wall = BigInt(Date.now()) * 1_000_000n;
  const est = a.monotonicNs() + a.clockOffsetNs();
  assert.ok((est > wall ? est - wall : wall - est) < 1_000_000_000n, 'monotonic + offset ≈ wall clock');
  assert.ok(a.numPossibleCpus() >= 1);
  assert.equal(typeof a.raiseMemlock(), 'boolean');
  assert.equal(a.ifNameToIndex('lo'), 1);
  assert.equal(a.ifNameToIndex('no-such-if0'), 0);
  const cg2 = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.includes(' - cgroup2 '));
  if (cg2) assert.equal(typeof a.cgroupId(cg2.split(' ')[4]!), 'bigint');
  expectNative(() => a.cgroupId('/no/such/dir'), 2, /get cgroup id of '\/no\/such\/dir': No such file/);
  assert.throws(() => a.ifNameToIndex(42 as unknown as string), TypeError);
});

test('pcapCompile and pcapFilter', (t) => {
  const a = addon(t, false);
  if (!a) return;
  const prog = a.pcapCompile('tcp port 443', 1 /* DLT_EN10MB */, 262144);
  assert.ok(prog.length > 0 && prog.length % 8 === 0);
  const err = expectNative(() => a.pcapCompile('tcp port', 1, 262144), 22, /compile pcap filter 'tcp port': .*syntax error/);
  assert.ok(!err.message.includes('Invalid argument'), 'libpcap message, not strerror');
  const packet = (dport: number): Buffer => {
    const b = Buffer.alloc(14 + 20 + 20);
    b.writeUInt16BE(0x0800, 12); // IPv4
    b[14] = 0x45; b.writeUInt16BE(40, 16); b[22] = 64; b[23] = 6; // TCP
    b.set([127, 0, 0, 1], 26); b.set([127, 0, 0, 1], 30);
    b.writeUInt16BE(40000, 34); b.writeUInt16BE(dport, 36); b[46] = 0x50; b[47] = 0x02; // SYN
    return b;
  };
  assert.ok(a.pcapFilter(prog, packet(443), 54) > 0);
  assert.equal(a.pcapFilter(prog, packet(80), 54), 0);
  assert.throws(() => a.pcapFilter(Buffer.alloc(3), packet(443), 54), TypeError);
  expectNative(() => a.pcapFilter(Buffer.alloc(8, 0xff), packet(443), 54), 22, /invalid classic BPF program/);
});

// --- root: BPF ---------------------------------------------------------------------------------------------------
test('open: programs and maps; argument and lookup errors', (t) => {
  const a = addon(t);
  if (!a) return;
  expectNative(() => new a.BpfObject('/no/such/file.bpf.o'), 2, /open BPF object '\/no\/such\/file.bpf.o'/);
  assert.throws(() => new a.BpfObject(7 as unknown as string), TypeError);
  assert.throws(() => (a.BpfObject as unknown as (p: string) => void)(FIXTURE), TypeError);
  const o = new a.BpfObject(FIXTURE);
  try {
    assert.equal(o.name, 'fixture');
    const progs = Object.fromEntries(o.programs().map((p) => [p.name, p]));
    assert.deepEqual(Object.keys(progs).sort(), [...OUR_PROGS].sort());
    assert.deepEqual(progs.tp_getpid, { name: 'tp_getpid', section: 'tracepoint/syscalls/sys_enter_getpid', autoload: true });
    assert.equal(progs.tc_count?.section, 'tc');
    const maps = Object.fromEntries(o.maps().map((m) => [m.name, m]));
    assert.deepEqual(maps.counts, { name: 'counts', type: 1, keySize: 4, valueSize: 8, maxEntries: 64 });
    assert.equal(maps.pcpu?.type, 6);
    assert.equal(maps.events?.type, 27);
    assert.equal(maps.perf_events?.type, 4);
    assert.ok(maps['fixture.rodata'], 'internal .rodata map listed');
    expectNative(() => o.setAutoload('nope', false), 2, /find program 'nope'/);
    expectNative(() => o.setMapMaxEntries('nope', 1), 2, /find map 'nope'/);
    expectNative(() => o.mapLookup('counts', u32(0)), 22, /not loaded/);
    expectNative(() => o.attachTracepoint('tp_getpid', 'syscalls', 'sys_enter_getpid'), 22, /not loaded/);
    assert.throws(() => o.setGlobal('knob', 'abcd' as unknown as Buffer), TypeError);
  } finally {
    o.close();
  }
  o.close(); // idempotent
  assert.equal(o.linkCount(), 0);
  expectNative(() => o.programs(), 9, /closed/);
});

test('feature probes and mountFs errors', (t) => {
  const a = addon(t);
  if (!a) return;
  assert.equal(a.probeMapType('ringbuf'), true);
  assert.equal(a.probeMapType('perf_event_array'), true);
  assert.equal(a.probeProgType('tracepoint'), true);
  assert.equal(a.probeProgType('sched_cls'), true);
  assert.equal(a.probeProgType('raw_tracepoint'), true);
  assert.equal(typeof a.probeProgType('kprobe'), 'boolean');
  assert.equal(a.probeHelper('tracepoint', 'bpf_ringbuf_output'), true);
  assert.equal(a.probeHelper('sched_cls', 'skb_load_bytes'), true);
  assert.equal(a.probeHelper('tracepoint', 'bpf_skb_load_bytes'), false, 'not available to tracepoints');
  expectNative(() => a.probeMapType('no_such_map'), 22, /unknown name/);
  expectNative(() => a.probeHelper('kprobe', 'no_such_helper'), 22, /unknown name/);
  expectNative(() => a.mountFs('nosuchfs', '/tmp'), 19, /mount nosuchfs at '\/tmp': No such device/);
});

test('setGlobal/getGlobal and setMapMaxEntries', (t) => {
  const a = addon(t);
  if (!a) return;
  const o = new a.BpfObject(FIXTURE);
  try {
    assert.deepEqual(o.getGlobal('knob'), u32(0));
    o.setGlobal('knob', u32(0xabcd));
    assert.deepEqual(o.getGlobal('knob'), u32(0xabcd));
    assert.equal(o.getGlobal('data_word', '.data').readBigUInt64LE(), 0x1122334455667788n);
    o.setGlobal('data_word', Buffer.alloc(8, 0x11), '.data');
    assert.deepEqual(o.getGlobal('data_word', '.data'), Buffer.alloc(8, 0x11));
    expectNative(() => o.setGlobal('knob', Buffer.alloc(3)), 22, /value has 3 bytes, the variable has 4/);
    expectNative(() => o.setGlobal('nope', u32(1)), 2, /find global 'nope'/);
    expectNative(() => o.getGlobal('knob', '.nosuch'), 2, /find section '.nosuch'/);
    o.setMapMaxEntries('counts', 128);
    o.setMapMaxEntries('events', 128 * 1024);
    const maps = Object.fromEntries(o.maps().map((m) => [m.name, m]));
    assert.equal(maps.counts?.maxEntries, 128);
    assert.equal(maps.events?.maxEntries, 128 * 1024);
    o.setAutoload('kprobe_nanosleep', false);
    o.setMapAutocreate('perf_events', true);
    o.load();
    assert.equal(o.programs().find((p) => p.name === 'kprobe_nanosleep')?.autoload, false);
    expectNative(() => o.setGlobal('knob', u32(1)), 16, /already loaded/);
    assert.deepEqual(o.getGlobal('knob'), u32(0xabcd), 'frozen .rodata still readable');
    o.mapUpdate('fixture.data', u32(0), Buffer.alloc(8, 0x22));
    assert.deepEqual(o.getGlobal('data_word', '.data'), Buffer.alloc(8, 0x22), 'after load: the live map memory');
    expectNative(() => o.setMapMaxEntries('counts', 1), 16, /set max_entries of map 'counts'/);
    expectNative(() => o.load(), 114, /already loaded/);
  } finally {
    o.close();
  }
});

test('load failure carries the program name and the verifier log', (t) => {
  const a = addon(t);
  if (!a) return;
  const o = new a.BpfObject(BAD);
  try {
    const err = expectNative(() => o.load(), null, /^load program 'bad_access' of BPF object 'bad': /);
    assert.equal(err.program, 'bad_access');
    assert.match(err.log ?? '', /invalid access to map value/);
    assert.ok((err.log ?? '').split('\n').length <= 41, 'only the tail of the log');
  } finally {
    o.close();
  }
});

test('log callback receives libbpf lines and may not re-enter the addon', (t) => {
  const a = addon(t);
  if (!a) return;
  const lines: [number, string][] = [];
  const o = open(a);
  let reentry: unknown;
  try {
    a.setLogCallback(2, (level, line) => {
      lines.push([level, line]);
      if (reentry === undefined) try { o.programs(); reentry = null; } catch (e) { reentry = e; }
    });
    o.load();
  } finally {
    a.setLogCallback(0, null);
    o.close();
  }
  assert.ok(lines.length > 0, 'debug lines delivered');
  assert.ok(lines.every(([l, s]) => l >= 0 && l <= 2 && !s.includes('\n')));
  assert.match(String(reentry), /log callback/);
  assert.throws(() => a.setLogCallback(3, null), TypeError);
});

test('tracepoint + ring buffer: batches, level-triggered polling, drainBuffers', async (t) => {
  const a = addon(t);
  if (!a) return;
  ensureTracefs(a);
  const o = open(a, { knob: 0xabcd });
  try {
    o.load();
    const samples: Sample[] = [];
    let batches = 0;
    let maxBatch = 0;
    o.openRingBuffer('events', (batch, count) => {
      batches++;
      maxBatch = Math.max(maxBatch, batch.length);
      samples.push(...parseBatch(batch, count));
    }, 64);
    const link = o.attachTracepoint('tp_getpid', 'syscalls', 'sys_enter_getpid');
    assert.equal(o.linkCount(), 1);
    // The loop is blocked while the children run: many batches are pending at the next poll, more
    // than one wakeup consumes (8 batches), so delivery of the rest relies on level-triggered polling.
    const pids = [child(), child()];
    const before = samples.length;
    assert.ok(await waitFor(() => pids.every((p) => samples.some((s) => s.tgid === p))), 'samples of both children');
    assert.ok(samples.length - before > 16, `more than 8 batches of 2 (${samples.length - before})`);
    assert.ok(maxBatch <= 64, 'batches respect maxBatchBytes');
    const s = samples.find((x) => x.tgid === pids[0])!;
    assert.deepEqual([s.len, s.magic, s.kind, s.knob], [24, MAGIC, KIND.tracepoint, 0xabcd]);
    assert.ok(s.ts > 0n && s.ts <= a.monotonicNs(), 'bpf_ktime_get_ns is CLOCK_MONOTONIC');
    assert.ok(batches > 1);
    // synchronous drain: everything pending is delivered before drainBuffers returns
    const pid = child();
    assert.ok(o.drainBuffers() > 0);
    assert.ok(samples.some((x) => x.tgid === pid));
    // detach stops the samples
    o.detach(link);
    assert.equal(o.linkCount(), 0);
    expectNative(() => o.detach(link), 2, /detach link/);
    o.drainBuffers();
    const pid2 = child();
    o.drainBuffers();
    assert.ok(!samples.some((x) => x.tgid === pid2), 'no samples after detach');
    const kindKey = u32(KIND.tracepoint);
    assert.ok(o.mapLookup('counts', kindKey)!.readBigUInt64LE() > 0n);
  } finally {
    o.close();
  }
});

test('ring buffer callback exceptions: rethrown by drainBuffers, emitted as warnings from the loop', async (t) => {
  const a = addon(t);
  if (!a) return;
  ensureTracefs(a);
  const o = open(a);
  try {
    o.load();
    let calls = 0;
    o.openRingBuffer('events', () => { calls++; throw new Error(`boom ${calls}`); });
    o.attachTracepoint('tp_getpid', 'syscalls', 'sys_enter_getpid');
    child();
    assert.throws(() => o.drainBuffers(), /boom 1/);
    const warning = once(process, 'warning');
    child();
    const [w] = await warning as [Error];
    assert.match(w.message, /boom/);
    assert.ok(calls >= 2);
  } finally {
    o.close();
  }
});

test('perf buffer delivery', async (t) => {
  const a = addon(t);
  if (!a) return;
  ensureTracefs(a);
  const o = open(a, { knob: 7, usePerf: true });
  try {
    o.load();
    const samples: Sample[] = [];
    const lost: [number, number][] = [];
    expectNative(() => o.openPerfBuffer('perf_events', 3, () => {}, () => {}), 22, /open perf buffer on map 'perf_events'/);
    expectNative(() => o.openPerfBuffer('events', 8, () => {}, () => {}), 22, /wrong map type/);
    o.openPerfBuffer('perf_events', 8, (batch, count) => samples.push(...parseBatch(batch, count)),
      (cpu, n) => lost.push([cpu, n]));
    o.attachTracepoint('tp_getpid', 'syscalls', 'sys_enter_getpid');
    const pid = child('process.pid; require("os").userInfo()');
    // drain as well as poll: a loaded machine may delay the epoll wakeup past a short wait
    assert.ok(await waitFor(() => (o.drainBuffers(), samples.some((s) => s.tgid === pid)), 10_000), 'perf sample of the child');
    const s = samples.find((x) => x.tgid === pid)!;
    assert.ok(s.len >= 24, 'perf pads raw samples, never shortens them');
    assert.deepEqual([s.magic, s.kind, s.knob], [MAGIC, KIND.tracepoint, 7]);
    assert.deepEqual(lost, []);
  } finally {
    o.close();
  }
});

test('uprobe and uretprobe on libc getuid: all samples, large batches; raw tracepoint; kprobe error', async (t) => {
  const a = addon(t);
  if (!a) return;
  if (skipIf(t, existsSync(LIBC) ? null : `${LIBC} not found`)) return;
  const o = open(a);
  o.setAutoload('kprobe_nanosleep', true);
  o.setMapMaxEntries('events', 1 << 20);
  try {
    o.load();
    const samples: Sample[] = [];
    let biggest = 0;
    o.openRingBuffer('events', (batch, count) => {
      biggest = Math.max(biggest, batch.length);
      samples.push(...parseBatch(batch, count));
    });
    const offset = symbolOffset(LIBC, 'getuid');
    o.attachUprobe('probe_entry', { path: LIBC, offset });
    o.attachUprobe('probe_return', { path: LIBC, offset, retprobe: true, pid: -1 });
    const pid = child('for (let i = 0; i < 3000; i++) process.getuid()');
    const n = (k: number): number => samples.filter((s) => s.tgid === pid && s.kind === k).length;
    assert.ok(await waitFor(() => n(KIND.uprobe) >= 3000 && n(KIND.uretprobe) === n(KIND.uprobe)),
      `every call seen on entry and return (${n(KIND.uprobe)}/${n(KIND.uretprobe)})`);
    assert.ok(biggest >= 64 * 1024, `a large batch was delivered (${biggest} bytes)`);
    expectNative(() => o.attachUprobe('probe_entry', { path: '/no/such/lib.so', offset: 0 }), 2,
      /attach uprobe 'probe_entry' to \/no\/such\/lib.so\+0x0/);
    expectNative(() => o.attachUprobe('nope', { path: LIBC, offset }), 2, /find program 'nope'/);
    assert.throws(() => o.attachUprobe('probe_entry', { path: LIBC } as Native.UprobeOptions), TypeError);
    const raw = o.attachRawTracepoint('raw_sys_enter', 'sys_enter');
    assert.equal(o.linkCount(), 3);
    o.detach(raw);
    try {
      o.detach(o.attachKprobe('kprobe_nanosleep', 'do_nanosleep'));
    } catch (e) {
      const err = e as NativeError;
      assert.match(err.message, /^attach kprobe 'kprobe_nanosleep' to do_nanosleep: /);
      assert.ok(err.errno > 0);
    }
    expectNative(() => o.attachTracepoint('tp_getpid', 'nosuchcat', 'nosuchevent'), null,
      /attach tracepoint 'tp_getpid' to nosuchcat\/nosuchevent/);
  } finally {
    o.close();
  }
  assert.equal(o.linkCount(), 0);
});

test('uprobe restricted to one pid', async (t) => {
  const a = addon(t);
  if (!a) return;
  if (skipIf(t, existsSync(LIBC) ? null : `${LIBC} not found`)) return;
  const o = open(a);
  try {
    o.load();
    const samples: Sample[] = [];
    o.openRingBuffer('events', (batch, count) => samples.push(...parseBatch(batch, count)));
    o.attachUprobe('probe_entry', { path: LIBC, offset: symbolOffset(LIBC, 'getuid'), pid: process.pid });
    const pid = child('process.getuid()');
    process.getuid?.();
    assert.ok(await waitFor(() => samples.some((s) => s.tgid === process.pid)), 'fired in this process');
    assert.ok(!samples.some((s) => s.tgid === pid), 'not in the child');
  } finally {
    o.close();
  }
});

test('map operations', (t) => {
  const a = addon(t);
  if (!a) return;
  const o = open(a);
  try {
    o.load();
    const k = u32(100);
    const v = Buffer.alloc(8); v.writeBigUInt64LE(42n);
    assert.equal(o.mapLookup('counts', k), null);
    o.mapUpdate('counts', k, v);
    assert.deepEqual(o.mapLookup('counts', k), v);
    expectNative(() => o.mapUpdate('counts', k, v, 1 /* BPF_NOEXIST */), 17, /update map 'counts'/);
    assert.ok(o.mapKeys('counts').some((key) => key.equals(k)));
    assert.equal(o.mapDelete('counts', k), true);
    assert.equal(o.mapDelete('counts', k), false);
    expectNative(() => o.mapLookup('counts', Buffer.alloc(3)), 22, /key has 3 bytes/);
    expectNative(() => o.mapUpdate('counts', k, Buffer.alloc(4)), 22, /value has 4 bytes, expected 8/);
    expectNative(() => o.mapLookup('nope', k), 2, /find map 'nope'/);
    const per = a.numPossibleCpus() * 8;
    assert.equal(o.mapLookup('pcpu', u32(1))?.length, per);
    o.mapUpdate('pcpu', u32(1), Buffer.alloc(per, 1));
    assert.deepEqual(o.mapLookup('pcpu', u32(1)), Buffer.alloc(per, 1));
    assert.equal(o.mapKeys('pcpu').length, 4);
    assert.ok(o.mapFd('counts') > 0);
  } finally {
    o.close();
  }
});

test('TC on lo: counts packets; close() removes the clsact it created', async (t) => {
  const a = addon(t);
  if (!a) return;
  if (skipIf(t, tcQdiscs().includes('clsact') ? 'a clsact qdisc already exists on lo' : null)) return;
  const o = open(a);
  try {
    o.load();
    const lo = a.ifNameToIndex('lo');
    const ing = o.attachTc('tc_count', { ifindex: lo, direction: 'ingress' });
    o.attachTc('tc_count', { ifindex: lo, direction: 'egress', priority: 2, handle: 3 });
    expectNative(() => o.attachTc('tc_count', { ifindex: lo, direction: 'ingress' }), 17, /attach tc 'tc_count' to ifindex 1 ingress/);
    expectNative(() => o.attachTc('tp_getpid', { ifindex: lo, direction: 'ingress' }), 22, /not a SCHED_CLS/);
    assert.throws(() => o.attachTc('tc_count', { ifindex: lo, direction: 'up' as 'ingress' }), TypeError);
    assert.throws(() => o.attachTc('tc_count', { direction: 'ingress' } as Native.TcOptions), TypeError);
    assert.match(tcQdiscs(), /clsact/);
    assert.match(tcFilters('ingress'), /tc_count/);
    await loopbackTraffic();
    assert.ok(pcpuTotal(o) > 0n, 'tc program counted packets');
    o.detach(ing);
    assert.doesNotMatch(tcFilters('ingress'), /tc_count/);
    assert.match(tcQdiscs(), /clsact/, 'egress filter still uses the qdisc');
  } finally {
    o.close();
  }
  assert.doesNotMatch(tcQdiscs(), /clsact/, 'the clsact we created is gone');
});

test('TC on lo: a pre-existing clsact survives close()', async (t) => {
  const a = addon(t);
  if (!a) return;
  if (skipIf(t, tcQdiscs().includes('clsact') ? 'a clsact qdisc already exists on lo' : null)) return;
  execFileSync('tc', ['qdisc', 'add', 'dev', 'lo', 'clsact']);
  try {
    const o = open(a);
    try {
      o.load();
      o.attachTc('tc_count', { ifindex: a.ifNameToIndex('lo'), direction: 'ingress' });
      await loopbackTraffic();
      assert.ok(pcpuTotal(o) > 0n);
    } finally {
      o.close();
    }
    assert.match(tcQdiscs(), /clsact/, 'pre-existing clsact kept');
    assert.doesNotMatch(tcFilters('ingress'), /tc_count/, 'our filter removed');
  } finally {
    execFileSync('tc', ['qdisc', 'del', 'dev', 'lo', 'clsact']);
  }
});

test('after close, bpftool no longer lists the fixture programs', async (t) => {
  const a = addon(t);
  if (!a) return;
  ensureTracefs(a);
  const o = open(a);
  o.load();
  o.attachTracepoint('tp_getpid', 'syscalls', 'sys_enter_getpid');
  const listed = (): string[] => (JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' })) as { name?: string }[])
    .map((p) => p.name ?? '').filter((n) => OUR_PROGS.includes(n));
  assert.ok(listed().includes('tp_getpid'));
  o.close();
  assert.ok(await waitFor(() => listed().length === 0, 5000), `still listed: ${listed().join(', ')}`);
});
