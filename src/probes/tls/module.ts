/**
 * The `tls` module (OpenSSL, BoringSSL, OpenSSL linked statically): finds the libraries, loads the one
 * openssl.bpf.o, attaches probes to every target with a cookie naming the file (text mode: SSL_write/SSL_read/_ex
 * entries and returns; keylog/pcap modes: SSL_do_handshake entry and return, SSL_write/_ex entries; SSL_free in
 * both), and keeps hooking libraries of programs started later. See docs/keylog-pcap.md for the keys and packets.
 *
 * Modes (-m):
 *   text    plaintext of every read/write (DataRecords)
 *   keylog  the connections' secrets: NSS key log file (-k), KeyRecords to the outputs
 *   pcap    packets of one interface (-i, pcap filter) in a pcapng file (-w) with the secrets as Decryption
 *           Secrets Blocks ahead of the packets they decrypt; the key log file is written too
 * Everything that can be wrong with the command line (interface, filter, output paths, --ssl_version, targets)
 * is checked in init(), before anything is attached.
 */
import { dirname } from 'node:path';
import { arch, release } from 'node:os';
import { CaptureError, ConfigError } from '../../errors.js';
import type { Config } from '../../config/schema.js';
import type { CaptureModule, ModuleContext, ModuleStats } from '../../registry.js';
import { EventKind } from '../../gen/events.js';
import { LoadedObject, rodata, type OpenOptions } from '../../bpf/object.js';
import { features } from '../../bpf/features.js';
import { native } from '../../bpf/native.js';
import { ElfFile } from '../../elf/elf-file.js';
import { libraryDirs, resolveNeeded } from '../../discovery/libs.js';
import { exePath, listPids, processExists } from '../../discovery/proc.js';
import { PcapngWriter } from '../../output/pcapng/writer.js';
import { encodeLibOffsets } from '../../tls/lib-offsets.js';
import { selectForcedLayout } from '../../tls/openssl-version.js';
import { TlsDataDecoder } from '../common/tls-data.js';
import { applyLiveFilter, onlyFilterChanged, baseLoadOptions, eventReadOptions, IO_TRACEPOINTS } from '../common/load.js';
import { compileFilter, type CompiledFilter } from './cbpf.js';
import { resolveInterface, type NetInterface } from './iface.js';
import { KeySink } from './keys.js';
import { describeLayout, layoutForFile, layoutMapEntry, type TargetLayout } from './layouts.js';
import { PacketCapture, assertTcSupported } from './packets.js';
import { inspectSslFile, processSslTargets, systemSslTargets, type SslFunc, type SslTarget } from './targets.js';

type Programs = Partial<Record<SslFunc, { entry: string; ret?: string }>>;

/** text mode: the plaintext of every read and write */
const TEXT_PROGRAMS: Programs = {
  SSL_write: { entry: 'uprobe_ssl_write', ret: 'uretprobe_ssl_write' },
  SSL_read: { entry: 'uprobe_ssl_read', ret: 'uretprobe_ssl_read' },
  SSL_write_ex: { entry: 'uprobe_ssl_write_ex', ret: 'uretprobe_ssl_write_ex' },
  SSL_read_ex: { entry: 'uprobe_ssl_read_ex', ret: 'uretprobe_ssl_read_ex' },
  SSL_free: { entry: 'uprobe_ssl_free' },
};

/**
 * keylog/pcap modes: the secrets when SSL_do_handshake returns 1, else (a handshake done inside SSL_read/SSL_write,
 * e.g. by node) at the entry of the connection's next SSL_write. Entry probes, on writes only: every probe costs
 * the traced program a trap per call, and an application writes after its handshake (a request, a response) far
 * less often than it reads (a response in many records).
 */
const KEY_PROGRAMS: Programs = {
  SSL_write: { entry: 'uprobe_ssl_io_keys' },
  SSL_write_ex: { entry: 'uprobe_ssl_io_keys' },
  SSL_free: { entry: 'uprobe_ssl_free' },
  SSL_do_handshake: { entry: 'uprobe_ssl_do_handshake', ret: 'uretprobe_ssl_do_handshake' },
};

/** Largest snap length (ECAP_MAX_PACKET in bpf/include/events.h). */
export const MAX_SNAPLEN = 65792;
export const DEFAULT_KEYLOG = 'ecapture_openssl_key.log';

export type CaptureMode = 'text' | 'keylog' | 'pcap';

export function captureMode(model: unknown): CaptureMode {
  const m = String(model ?? 'text').toLowerCase();
  if (m === 'text' || m === '') return 'text';
  if (m === 'keylog' || m === 'key') return 'keylog';
  if (m === 'pcap' || m === 'pcapng') return 'pcap';
  throw new ConfigError(`-m ${m}: unknown capture mode`, { field: 'model', hint: 'use text, keylog (key) or pcap (pcapng)' });
}

export class TlsModule implements CaptureModule {
  readonly name = 'tls' as const;
  private ctx!: ModuleContext;
  private mode: CaptureMode = 'text';
  private obj: LoadedObject | undefined;
  private decoder!: TlsDataDecoder;
  private targets = new Map<string, { target: SslTarget; id: number; links: number[]; layout?: TargetLayout }>();
  private unsubscribe: (() => void) | undefined;
  private lost = 0;
  private attachFailures = 0;
  private unknownSamples = 0;
  private pending: SslTarget[] = [];
  // keylog / pcap
  private forceVersion: string | undefined;
  private layouts = new Map<string, TargetLayout>();
  private keys: KeySink | undefined;
  private keylogPath = '';
  private writer: PcapngWriter | undefined;
  private packets: PacketCapture | undefined;
  private iface: NetInterface | undefined;
  private filter: CompiledFilter | undefined;
  private bsslTracepoints = false;
  private final: ModuleStats | undefined;
  private started = false;

  constructor(private config: Config) {}

  async init(ctx: ModuleContext): Promise<void> {
    this.ctx = ctx;
    this.mode = captureMode(this.config.model);
    const keysMode = this.mode !== 'text';
    // 1. everything that can be wrong with the command line, without side effects
    let snaplen = MAX_SNAPLEN;
    if (this.mode === 'pcap') {
      assertTcSupported();
      this.iface = resolveInterface(String(this.config.ifname ?? ''));
      snaplen = Number(this.config.snaplen ?? 0) || MAX_SNAPLEN;
      if (snaplen > MAX_SNAPLEN) snaplen = MAX_SNAPLEN;
      this.filter = compileFilter(String(this.config.pcapFilter ?? ''), this.iface.linkType!, snaplen, {
        compile: (e, dlt, s) => native().pcapCompile(e, dlt, s),
        haveBpfLoop: features.bpfLoop().ok,
        force: process.env.ECAPTURE_PCAP_FILTER,
      });
    }
    if (keysMode) {
      this.forceVersion = this.config.sslVersion ? String(this.config.sslVersion) : undefined;
      if (this.forceVersion) selectForcedLayout(this.forceVersion); // a value we do not understand: ConfigError now
      this.keylogPath = String(this.config.keylogfile ?? '') || DEFAULT_KEYLOG;
    }
    const initial = this.findInitialTargets();
    let defaultLayout: TargetLayout | undefined;
    if (keysMode) {
      for (const t of initial) {
        const l = this.layoutFor(t);
        defaultLayout ??= l;
      }
    }

    // 2. outputs (files are created here: a path we cannot write fails before anything is attached)
    this.decoder = new TlsDataDecoder('tls', ctx.wallClock, ctx.emit);
    if (this.mode === 'pcap') {
      const iface = this.iface!;
      this.writer = new PcapngWriter({
        path: String(this.config.pcapfile ?? '') || 'save.pcapng',
        flushBytes: 1 << 20, // written at least every second (its timer) and completely on close
        shb: { hardware: arch(), os: `Linux ${release()}`, userAppl: 'ecapture-ts', comment: `ecapture-ts tls -m pcap -i ${iface.name}` },
      });
      this.writer.addInterface({
        linkType: iface.linkType!,
        snaplen,
        name: iface.name,
        description: `${iface.name} (ifindex ${iface.ifindex})`,
        ...(this.filter ? { filter: this.filter.expr } : {}),
        os: `Linux ${release()}`,
        ifIndex: iface.ifindex,
      });
    }
    if (keysMode) {
      const writer = this.writer;
      this.keys = new KeySink({
        path: this.keylogPath,
        wallClock: ctx.wallClock,
        emit: ctx.emit,
        ...(writer ? { onLines: (lines: string[]) => writer.addSecrets(lines) } : {}),
      });
    }

    // 3. BPF objects (loaded, nothing attached yet)
    const o: OpenOptions = baseLoadOptions(this.config);
    if (keysMode) {
      o.rodata = {
        ...o.rodata,
        capture_keys: rodata.u32(1),
        capture_data: rodata.u32(0),
        ...(defaultLayout ? { lib_offsets: encodeLibOffsets(defaultLayout.offsets) } : {}),
      };
      // the plaintext path's fd-binding tracepoints are not used in these modes
      o.autoload = { ...o.autoload, ...Object.fromEntries(IO_TRACEPOINTS.map(([, n]) => [`tp_${n}`, false])) };
    } else {
      o.autoload = { ...o.autoload, ...Object.fromEntries(IO_TRACEPOINTS.map(([, n]) => [`keys_${n}`, false])) };
    }
    this.obj = LoadedObject.load('tls/openssl', o);
    if (this.mode === 'pcap') {
      this.packets = PacketCapture.load({
        config: this.config,
        iface: this.iface!,
        interfaceId: 0,
        snaplen,
        ...(this.filter ? { filter: this.filter } : {}),
        writer: this.writer!,
        wallClock: ctx.wallClock,
        log: ctx.log,
      });
    }
    for (const t of initial) this.pending.push(t);
  }

  private findInitialTargets(): SslTarget[] {
    const libssl = this.config.libssl ? String(this.config.libssl) : '';
    const pid = Number(this.config.pid ?? 0);
    if (libssl) {
      const t = inspectSslFile(libssl, libssl, { allowSymtab: true });
      if (!t) {
        throw new CaptureError('ECAP_NO_TARGET', `--libssl ${libssl}: not an ELF file that defines SSL_write and SSL_read`, {
          hint: 'point --libssl at libssl.so.* or at a binary with OpenSSL/BoringSSL linked in (with symbols)',
        });
      }
      return [t];
    }
    if (pid > 0) {
      if (!processExists(pid)) {
        throw new CaptureError('ECAP_NO_PROCESS', `--pid ${pid}: no such process`, { hint: 'check the pid with `ps`' });
      }
      const ts = processSslTargets(pid);
      if (ts.length === 0) {
        throw new CaptureError('ECAP_NO_TARGET', `--pid ${pid} (${exePath(pid) ?? '?'}) maps no OpenSSL/BoringSSL library`, {
          hint: 'the process may use another TLS library (try gnutls, nss, gotls) or load libssl later; --libssl PATH hooks a file directly',
        });
      }
      return ts;
    }
    const byKey = new Map<string, SslTarget>();
    for (const t of systemSslTargets()) byKey.set(t.key, t);
    let scanned = 0;
    for (const p of listPids()) {
      if (p === process.pid) continue;
      scanned++;
      for (const t of processSslTargets(p)) if (!byKey.has(t.key)) byKey.set(t.key, t);
    }
    if (byKey.size === 0) {
      throw new CaptureError('ECAP_NO_TARGET', `no OpenSSL/BoringSSL library found: looked for libssl.so* in ${libraryDirs().join(', ')} and in the maps of ${scanned} running processes`, {
        hint: 'pass --libssl PATH (a libssl.so or a binary with OpenSSL linked in)',
      });
    }
    return [...byKey.values()];
  }

  /** The struct layout of a target (keylog/pcap modes), with its warning logged once. */
  private layoutFor(t: SslTarget): TargetLayout {
    const hit = this.layouts.get(t.key);
    if (hit) return hit;
    const l = layoutForFile(t.path, this.forceVersion);
    this.layouts.set(t.key, l);
    if (l.warning) this.ctx.log.warn(l.warning, { path: t.displayPath, layout: l.layout });
    else this.ctx.log.debug('TLS library layout', { path: t.displayPath, layout: describeLayout(l) });
    return l;
  }

  async start(): Promise<void> {
    const obj = this.obj!;
    if (this.mode === 'text') for (const [cat, name] of IO_TRACEPOINTS) obj.attachTracepoint(`tp_${name}`, cat, name);
    for (const t of this.pending.splice(0)) this.attachTarget(t, true);
    const r = eventReadOptions(this.config);
    const onSample = this.mode === 'text' ? (s: Buffer) => this.decoder.handle(s) : (s: Buffer) => this.onKeySample(s);
    obj.readEvents('events_rb', 'events_pb', r.usePerf, r.pagesPerCpu, onSample, (n) => {
      this.lost += n;
    }, r.drainEveryMs);
    this.packets?.start();
    if (!this.config.libssl) {
      const onlyPid = Number(this.config.pid ?? 0);
      this.unsubscribe = this.ctx.onProcess({
        exec: (pid, filename) => {
          if (onlyPid > 0 && pid !== onlyPid) return;
          this.discover(pid, filename);
        },
      });
    }
    this.started = true;
    if (this.keys) {
      this.ctx.log.info('writing keys', { keylogfile: this.keylogPath, ...(this.writer ? { pcapfile: this.writer.path } : {}) });
    }
  }

  private onKeySample(s: Buffer): void {
    if (s.length >= 4 && s.readUInt32LE(0) === EventKind.EVENT_MASTER_SECRET) this.keys!.handle(s);
    else this.unknownSamples++;
  }

  /** A program started: hook its executable (static OpenSSL) and the libssl it needs, before it runs far. */
  private discover(pid: number, filename: string): void {
    const exe = exePath(pid) ?? filename;
    const found: SslTarget[] = [];
    const t = inspectSslFile(exe, exe, { allowSymtab: true });
    if (t) found.push(t);
    try {
      const elf = ElfFile.open(exe);
      try {
        const { needed, runpath } = elf.dynamic();
        for (const n of needed) {
          if (!n.startsWith('libssl')) continue;
          const p = resolveNeeded(n, runpath, dirname(exe));
          const lt = p ? inspectSslFile(p) : undefined;
          if (lt) found.push(lt);
        }
      } finally {
        elf.close();
      }
    } catch {
      /* exited already, or not ELF (a script) */
    }
    for (const f of found) if (!this.targets.has(f.key)) this.attachTarget(f, false);
  }

  /** BoringSSL keeps TLS 1.3 secrets only during the handshake: snapshot them at its syscalls. */
  private ensureBsslTracepoints(): void {
    if (this.bsslTracepoints) return;
    for (const [cat, name] of IO_TRACEPOINTS) this.obj!.attachTracepoint(`keys_${name}`, cat, name);
    this.bsslTracepoints = true;
  }

  private attachTarget(t: SslTarget, fatal: boolean): void {
    const obj = this.obj!;
    const id = this.targets.size + 1;
    const pid = Number(this.config.pid ?? 0);
    const links: number[] = [];
    let layout: TargetLayout | undefined;
    try {
      if (this.mode !== 'text') {
        layout = this.layoutFor(t);
        if (id < 1024) {
          const { key, value } = layoutMapEntry(id, layout);
          obj.update('lib_layouts', key, value);
        } else {
          this.ctx.log.warn('more than 1023 TLS libraries hooked: this one uses the default layout', { path: t.displayPath });
        }
        if (layout.kind === 'boringssl') this.ensureBsslTracepoints();
      }
      const programs = this.mode === 'text' ? TEXT_PROGRAMS : KEY_PROGRAMS;
      for (const [fn, progs] of Object.entries(programs) as [SslFunc, { entry: string; ret?: string }][]) {
        const offset = t.offsets[fn];
        if (offset === undefined) continue;
        const base = { path: t.path, offset, pid, cookie: id, symbol: fn };
        links.push(obj.attachUprobe(progs.entry, base));
        if (progs.ret) links.push(obj.attachUprobe(progs.ret, { ...base, retprobe: true }));
      }
    } catch (e) {
      for (const l of links) obj.detach(l);
      this.attachFailures++;
      if (fatal) throw e;
      this.ctx.log.warn('could not hook a TLS library', { path: t.displayPath, error: (e as Error).message });
      return;
    }
    this.targets.set(t.key, { target: t, id, links, ...(layout ? { layout } : {}) });
    this.decoder.libs.set(id, t.lib);
    this.ctx.log.info('hooked', { lib: t.lib, path: t.displayPath, probes: links.length, ...(layout ? { layout: layout.layout } : {}) });
  }

  /**
   * Filters (pid, uid, cgroup) change live in the kernel (live_filter_map) when the hooks were attached for
   * every process (no --pid at start) and no packet capture runs; anything else asks for a restart.
   */
  async reconfigure(config: Config): Promise<boolean> {
    if (!this.obj || this.packets || Number(this.config.pid ?? 0) > 0 || !onlyFilterChanged(this.config, config)) return false;
    applyLiveFilter(this.obj, config);
    this.config = config;
    return true;
  }

  drain(): void {
    this.obj?.drain();
    this.packets?.drain();
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    this.drain();
    if (this.obj) this.final = this.stats();
    this.obj?.close();
    this.obj = undefined;
    const kc = this.packets?.kernelCounters();
    this.packets?.close();
    this.packets = undefined;
    const w = this.writer;
    this.writer = undefined;
    if (w) {
      w.close();
      const s = w.stats;
      const line = { pcapfile: w.path, packets: s.packets, secrets_blocks: s.secretsBlocks, released_without_keys: s.releasedWithoutKeys, ...(kc ?? {}) };
      if (!this.started) {
        /* init or start failed: the error says why; no summary */
      } else if (s.packets === 0) this.ctx.log.warn(`nothing captured on ${this.iface?.name}: check the interface (-i) and the filter`, line);
      else this.ctx.log.info('pcapng written', line);
      if (this.final) this.final = { ...this.final, packets: s.packets, secretsBlocks: s.secretsBlocks, releasedWithoutKeys: s.releasedWithoutKeys };
    }
    if (this.keys) {
      if (this.started) this.ctx.log.info('key log written', { keylogfile: this.keylogPath, lines: this.keys.counters.lines, connections: this.keys.counters.events });
      this.keys.close();
      this.keys = undefined;
    }
  }

  stats(): ModuleStats {
    if (!this.obj && this.final) return this.final;
    const drops = this.obj ? this.obj.sumPerCpuCounters('drops', 4) : [];
    const base = {
      targets: this.targets.size,
      probes: this.obj?.linkCount ?? 0,
      readFaults: drops[1]?.events ?? 0,
      attachFailures: this.attachFailures,
    };
    if (this.mode === 'text') {
      const c = this.decoder?.counters;
      return {
        ...base,
        events: c?.events ?? 0,
        bytes: c?.bytes ?? 0,
        lostEvents: (drops[0]?.events ?? 0) + this.lost,
        lostBytes: (drops[0]?.bytes ?? 0) + (drops[2]?.bytes ?? 0),
        decodeErrors: (c?.short ?? 0) + (c?.unknown ?? 0),
      };
    }
    const k = this.keys?.counters;
    const p = this.packets?.counters;
    const kc = this.packets?.kernelCounters() ?? {};
    return {
      ...base,
      events: (k?.events ?? 0) + (p?.packets ?? 0),
      bytes: p?.bytes ?? 0,
      lostEvents: (drops[0]?.events ?? 0) + this.lost + (kc.ringFull ?? 0),
      lostBytes: drops[0]?.bytes ?? 0,
      decodeErrors: (k?.short ?? 0) + this.unknownSamples + (p?.short ?? 0) + (p?.unknown ?? 0),
      keyEvents: k?.events ?? 0,
      keyLines: k?.lines ?? 0,
      packets: p?.packets ?? 0,
      packetBytes: p?.bytes ?? 0,
      packetsFilteredInKernel: kc.filteredKernel ?? 0,
      packetsFilteredInUser: p?.userFiltered ?? 0,
      packetsNotOurs: kc.notOurs ?? 0,
      packetsOwned: p?.owned ?? 0,
    };
  }
}
