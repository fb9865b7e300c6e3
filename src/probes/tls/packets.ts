/**
 * The packets half of pcap mode: loads bpf/net/tc_capture.bpf.o for one interface (its link type, the snap
 * length, the pcap filter when it runs in the kernel, the process filter), attaches the process-attribution
 * hooks the kernel offers, seeds socket owners from /proc, attaches the TC ingress/egress programs, and writes
 * every packet the kernel sends to the pcapng writer with wall-clock time, direction and a comment naming the
 * process. close() detaches everything (the native layer removes a clsact qdisc only if it created it).
 */
import { existsSync, readFileSync } from 'node:fs';
import { CaptureError } from '../../errors.js';
import type { Config } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import { EventHdrLayout, EventKind, PacketEventLayout, PktFlags } from '../../gen/events.js';
import { features, tracefsPath } from '../../bpf/features.js';
import { native } from '../../bpf/native.js';
import { LoadedObject, rodata, type OpenOptions } from '../../bpf/object.js';
import type { PcapngWriter } from '../../output/pcapng/writer.js';
import { btfPath, cgroupFilterId, filterRodata, ringBytes, usePerfBuffer, wakeupBytes, eventReadOptions } from '../common/load.js';
import { cbpfRodata, type CompiledFilter } from './cbpf.js';
import type { NetInterface } from './iface.js';
import { flowKeyBytes, procSockets, skOwnerBytes, socketOwners } from './sockets.js';

/** Byte offsets in a packet_event sample, from the generated layout. */
const H = Object.fromEntries(EventHdrLayout.fields.map((f) => [f.name, f.offset])) as Record<string, number>;
const L = Object.fromEntries(PacketEventLayout.fields.map((f) => [f.name, f.offset])) as Record<string, number>;
const P = {
  ts_ns: L.hdr! + H.ts_ns!,
  pid: L.hdr! + H.pid!,
  uid: L.hdr! + H.uid!,
  comm: L.hdr! + H.comm!,
  pkt_flags: L.pkt_flags!,
  len: L.len!,
  cap_len: L.cap_len!,
  peer_pid: L.peer_pid!,
  data: PacketEventLayout.DATA_OFFSET,
};

/** pkt_counters indexes (enum pkt_counter in tc_capture.bpf.c) */
const PC = { SEEN: 0, FILTERED: 1, NOT_OURS: 2, SENT: 3 } as const;

export interface PacketCaptureOptions {
  config: Config;
  iface: NetInterface;
  /** pcapng interface id of `iface` in `writer` */
  interfaceId: number;
  snaplen: number;
  filter?: CompiledFilter;
  writer: PcapngWriter;
  wallClock: (monoNs: number) => bigint;
  log: Logger;
}

export interface PacketCounters {
  packets: number;
  bytes: number;
  /** rejected by the pcap filter in userspace (placement 'user') */
  userFiltered: number;
  short: number;
  unknown: number;
  owned: number;
  seededSockets: number;
}

/** Tracepoints whose first argument is a struct sock * (attribution), best first. */
const SK_RAW_TRACEPOINTS = [['sock', 'sock_send_length'], ['sock', 'sock_recv_length']] as const;
const SK_RAW_FALLBACK = ['tcp', 'tcp_sendmsg_locked'] as const;
const OWNER_SYSCALLS = ['sys_enter_sendto', 'sys_enter_sendmsg', 'sys_enter_write', 'sys_enter_writev'] as const;

function hasTracepoint(cat: string, name: string): boolean {
  const t = tracefsPath();
  return t !== undefined && existsSync(`${t}/events/${cat}/${name}`);
}

/** The ring buffer for packets: 4× the event ring (--mapsize), at least 64 MiB (a second of 64 KiB frames). */
export function packetRingBytes(config: Config): number {
  let size = ringBytes(config) * 4;
  if (size < 64 << 20) size = 64 << 20;
  return Math.min(size, 1 << 30);
}

export class PacketCapture {
  readonly counters: PacketCounters = { packets: 0, bytes: 0, userFiltered: 0, short: 0, unknown: 0, owned: 0, seededSockets: 0 };
  private obj: LoadedObject | undefined;
  private lost = 0;
  private attribution: string[] = [];
  private final: Record<string, number> | undefined;

  private constructor(private readonly o: PacketCaptureOptions) {}

  /** Only the userspace half (packet events → pcapng), with no BPF object: for tests and benchmarks. */
  static withoutKernel(o: PacketCaptureOptions): PacketCapture {
    return new PacketCapture(o);
  }

  /** Load (not attach) the TC object. Errors here happen before anything is attached. */
  static load(o: PacketCaptureOptions): PacketCapture {
    const pc = new PacketCapture(o);
    pc.obj = pc.loadObject();
    return pc;
  }

  private loadOptions(tcCurrent: boolean): OpenOptions {
    const { config, iface, filter } = this.o;
    const perf = usePerfBuffer();
    const kernelFilter = filter?.placement === 'kernel';
    const ro: Record<string, Buffer> = {
      ...filterRodata(config, cgroupFilterId(config)),
      use_perfbuf: rodata.u32(perf ? 1 : 0),
      wakeup_bytes: rodata.u64(perf ? 0 : Math.min(packetRingBytes(config) / 8, 1 << 20)),
      snaplen: rodata.u32(this.o.snaplen),
      link_eth: rodata.u32(iface.linkType === 1 ? 1 : 0),
      skip_ingress: rodata.u32(iface.loopback ? 1 : 0),
      is_loopback: rodata.u32(iface.loopback ? 1 : 0),
      tc_current: rodata.u32(tcCurrent ? 1 : 0),
      cbpf_len: rodata.u32(kernelFilter ? filter.insns : 0),
    };
    if (kernelFilter) ro.cbpf_prog = cbpfRodata(filter.program);
    void wakeupBytes;
    const autoload: Record<string, boolean> = {};
    const rawTps = SK_RAW_TRACEPOINTS.filter(([c, n]) => hasTracepoint(c, n));
    const useRaw = rawTps.length > 0 || hasTracepoint(...SK_RAW_FALLBACK);
    const useKprobes = !useRaw && features.kprobes().ok;
    autoload.raw_tp_sk_owner = useRaw;
    autoload.kprobe_sk_owner = useKprobes;
    for (const s of OWNER_SYSCALLS) autoload[`tp_owner_${s}`] = !useRaw && !useKprobes;
    const opts: OpenOptions = {
      rodata: ro,
      mapSizes: { pkt_scratch: native().numPossibleCpus(), ...(perf ? {} : { events_rb: packetRingBytes(config) }) },
      autoload,
    };
    if (perf) opts.autocreate = { events_rb: false };
    const btf = btfPath(config);
    if (btf) opts.btfCustomPath = btf;
    return opts;
  }

  private loadObject(): LoadedObject {
    // The SYN of a connect() is attributed to the current task where TC programs may read it (newer kernels);
    // if this kernel refuses one of those helpers to TC programs, load without that part.
    const canCurrent = (() => {
      try {
        return native().probeHelper('sched_cls', 'get_current_pid_tgid') && native().probeHelper('sched_cls', 'get_current_comm');
      } catch {
        return false;
      }
    })();
    if (canCurrent) {
      try {
        return LoadedObject.load('net/tc_capture', this.loadOptions(true));
      } catch (e) {
        this.o.log.debug('TC object without current-task attribution', { error: (e as Error).message });
      }
    }
    return LoadedObject.load('net/tc_capture', this.loadOptions(false));
  }

  /** Attach the attribution hooks, seed socket owners, attach the TC programs and start reading. */
  start(): void {
    const obj = this.obj!;
    const { iface, config, log } = this.o;
    // attribution first, so sockets opened while we seed are recorded by the kernel
    const rawTps = SK_RAW_TRACEPOINTS.filter(([c, n]) => hasTracepoint(c, n));
    if (rawTps.length === 0 && hasTracepoint(...SK_RAW_FALLBACK)) rawTps.push(SK_RAW_FALLBACK as never);
    for (const [, name] of rawTps) {
      obj.attachRawTracepoint('raw_tp_sk_owner', name);
      this.attribution.push(`raw_tp:${name}`);
    }
    if (rawTps.length === 0 && features.kprobes().ok) {
      for (const fn of ['tcp_sendmsg', 'udp_sendmsg']) {
        obj.attachKprobe('kprobe_sk_owner', fn);
        this.attribution.push(`kprobe:${fn}`);
      }
    } else if (rawTps.length === 0) {
      for (const s of OWNER_SYSCALLS) {
        obj.attachTracepoint(`tp_owner_${s}`, 'syscalls', s);
        this.attribution.push(`syscalls:${s}`);
      }
    }
    obj.attachTracepoint('tp_owner_accept4', 'syscalls', 'sys_exit_accept4');
    obj.attachTracepoint('tp_owner_accept', 'syscalls', 'sys_exit_accept');
    obj.attachTracepoint('tp_owner_listen', 'sock', 'inet_sock_set_state');
    this.attribution.push('accept', 'listen');
    this.seedOwners();

    const r = eventReadOptions(config);
    obj.readEvents('events_rb', 'events_pb', r.usePerf, Math.max(r.pagesPerCpu, 256), (s) => this.handle(s), (n) => {
      this.lost += n;
    }, r.drainEveryMs);
    // distinct handles let two captures (or another tool's filter) share the hook
    const where = { handle: (process.pid & 0xffffff) || 1, priority: 1 };
    obj.attachTc('tc_egress', iface.ifindex, 'egress', iface.name, where);
    obj.attachTc('tc_ingress', iface.ifindex, 'ingress', iface.name, where);
    log.info('capturing packets', {
      ifname: iface.name,
      ifindex: iface.ifindex,
      linktype: iface.linkType,
      filter: this.o.filter ? `${this.o.filter.expr} (${this.o.filter.placement}: ${this.o.filter.why})` : 'none',
      attribution: this.attribution.join(','),
    });
  }

  /** Owners of sockets open before the capture (they would otherwise be known only at their next send). */
  private seedOwners(): void {
    const obj = this.obj!;
    try {
      const socks = procSockets();
      const owners = socketOwners(new Set(socks.map((s) => s.inode)), cgroupFilterId(this.o.config) !== undefined ? cgroupIdOfPid : undefined);
      for (const s of socks) {
        const o = owners.get(s.inode);
        if (!o) continue;
        try {
          obj.update('sk_owners', flowKeyBytes(s), skOwnerBytes(o));
          this.counters.seededSockets++;
        } catch {
          break; /* map full: the kernel fills the rest as sockets are used */
        }
      }
    } catch (e) {
      this.o.log.debug('could not read the owners of open sockets', { error: (e as Error).message });
    }
  }

  /** One packet event: the hot path (no full decode; comments cached per owner). */
  handle(sample: Buffer): void {
    if (sample.length < P.data || sample.readUInt32LE(0) !== EventKind.EVENT_PACKET) {
      if (sample.length < P.data) this.counters.short++;
      else this.counters.unknown++;
      return;
    }
    const len = sample.readUInt32LE(P.len);
    const capLen = Math.min(sample.readUInt32LE(P.cap_len), sample.length - P.data);
    const data = sample.subarray(P.data, P.data + capLen);
    const f = this.o.filter;
    if (f?.placement === 'user' && native().pcapFilter(f.program, data, len) === 0) {
      this.counters.userFiltered++;
      return;
    }
    const flags = sample.readUInt32LE(P.pkt_flags);
    this.counters.packets++;
    this.counters.bytes += len;
    const tsMono = sample.readUInt32LE(P.ts_ns) + sample.readUInt32LE(P.ts_ns + 4) * 4294967296;
    const p: Parameters<PcapngWriter['addPacket']>[0] = { interfaceId: this.o.interfaceId, tsNs: this.o.wallClock(tsMono), data, origLen: len };
    if (!this.o.iface.loopback) p.direction = flags & PktFlags.PKT_EGRESS ? 'outbound' : 'inbound';
    if (flags & PktFlags.PKT_OWNER) {
      this.counters.owned++;
      p.comment = this.comment(sample, flags);
    }
    this.o.writer.addPacket(p);
  }

  private comments = new Map<string, string>();

  /** "pid=123 comm=curl [uid=1000] [(receiver)] [peer_pid=456]", cached per owner and flags. */
  private comment(sample: Buffer, flags: number): string {
    const pid = sample.readUInt32LE(P.pid);
    const uid = sample.readUInt32LE(P.uid);
    const peer = flags & PktFlags.PKT_PEER_OWNER ? sample.readUInt32LE(P.peer_pid) : 0;
    const key = `${pid}/${uid}/${flags & (PktFlags.PKT_SENDER | PktFlags.PKT_PEER_OWNER)}/${peer}/${sample.toString('latin1', P.comm, P.comm + 4)}`;
    let c = this.comments.get(key);
    if (c === undefined) {
      const z = sample.indexOf(0, P.comm);
      const comm = sample.toString('utf8', P.comm, z >= P.comm && z < P.comm + 16 ? z : P.comm + 16);
      const parts = [`pid=${pid}`, `comm=${comm}`];
      if (uid !== 0) parts.push(`uid=${uid}`);
      if (!(flags & PktFlags.PKT_SENDER)) parts.push('(receiver)');
      if (peer) parts.push(`peer_pid=${peer}`);
      c = parts.join(' ');
      if (this.comments.size > 4096) this.comments.clear();
      this.comments.set(key, c);
    }
    return c;
  }

  drain(): void {
    this.obj?.drain();
  }

  /** Kernel-side counters: seen, filtered, not ours, sent, and losses. */
  kernelCounters(): Record<string, number> {
    if (!this.obj) return this.final ?? {};
    const c = this.obj.sumPerCpuCounters('pkt_counters', 4);
    const d = this.obj.sumPerCpuCounters('drops', 4);
    return {
      seen: c[PC.SEEN]!.events,
      filteredKernel: c[PC.FILTERED]!.events,
      notOurs: c[PC.NOT_OURS]!.events,
      sent: c[PC.SENT]!.events,
      ringFull: d[0]!.events + this.lost,
      readFaults: d[1]!.events,
      mapFull: d[3]!.events,
    };
  }

  close(): void {
    if (this.obj) {
      this.final = this.kernelCounters();
      this.o.writer.setInterfaceStats(this.o.interfaceId, {
        ifRecv: BigInt(this.final.seen ?? 0),
        osDrop: BigInt((this.final.ringFull ?? 0) + (this.final.readFaults ?? 0) + (this.final.mapFull ?? 0)),
      });
    }
    this.obj?.close();
    this.obj = undefined;
  }

  /** For tests and diagnostics: which attribution hooks are attached. */
  get attributionHooks(): readonly string[] {
    return this.attribution;
  }
}

/** cgroup v2 id of a process (for --cgroup_path filtering of seeded sockets). */
function cgroupIdOfPid(pid: number): bigint | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
    if (!line) return undefined;
    return native().cgroupId(`/sys/fs/cgroup${line.slice(3)}`);
  } catch {
    return undefined;
  }
}

export function assertTcSupported(): void {
  const f = features.tc();
  if (!f.ok) throw new CaptureError('ECAP_KERNEL_FEATURE', `pcap mode: ${f.name} not supported (needs ${f.requires})`);
}
