/**
 * The `gnutls` module: finds the GnuTLS libraries, loads the one gnutls.bpf.o and attaches, per target file
 * (attach cookie = target id):
 *   text mode:   entry/return probes on gnutls_record_send/_send2/_recv/_recv_seq, and gnutls_deinit;
 *   keylog mode: the key log hook (_gnutls_call_keylog_func) or, as a fallback, gnutls_handshake entry/return,
 *                with the file's session layout in the gnutls_layouts map; secrets become KeyRecords and lines
 *                of the -k key log file;
 *   pcap mode:   keylog mode plus the tls module's packet capture (TC on -i, pcap filter, process attribution):
 *                a pcapng file (-w) with the secrets as Decryption Secrets Blocks ahead of the packets.
 * Programs started later are hooked through the exec watcher. Each module hooks only its own library's
 * functions, so a program that maps several TLS libraries (Debian's curl maps libssl and libgnutls) is
 * reported once, by the module of the library it actually uses.
 */
import { arch, release } from 'node:os';
import { CaptureError } from '../../errors.js';
import type { Config } from '../../config/schema.js';
import type { CaptureModule, ModuleContext, ModuleStats } from '../../registry.js';
import type { KeyRecord } from '../../model/records.js';
import { LoadedObject, type OpenOptions } from '../../bpf/object.js';
import { features } from '../../bpf/features.js';
import { native } from '../../bpf/native.js';
import { PcapngWriter } from '../../output/pcapng/writer.js';
import { libraryDirs } from '../../discovery/libs.js';
import { exePath, listPids, processExists } from '../../discovery/proc.js';
import { decodeGnutlsKeylogEvent, decodeGnutlsSecretsEvent, GnutlsEventKind } from '../../gen/events.js';
import { KeylogWriter, type KeylogEntry } from '../../tls/keylog.js';
import { TlsDataDecoder, whoOf } from '../common/tls-data.js';
import { applyLiveFilter, baseLoadOptions, eventReadOptions, IO_TRACEPOINTS } from '../common/load.js';
import { compileFilter, type CompiledFilter } from '../tls/cbpf.js';
import { resolveInterface, type NetInterface } from '../tls/iface.js';
import { PacketCapture, assertTcSupported } from '../tls/packets.js';
import { encodeLayout } from './layout.js';
import { keylogHookEntry, sessionSecretsEntries } from './keys.js';
import { processLibraryPath } from './lib-targets.js';
import { gnutlsFinder, keyPlan, parseForcedVersion, type GnutlsFunc, type GnutlsTarget, type KeyPlan, type KeySource } from './targets.js';

const DATA_PROGRAMS: Partial<Record<GnutlsFunc, { entry: string; ret?: string }>> = {
  gnutls_record_send: { entry: 'uprobe_gnutls_record_send', ret: 'uretprobe_gnutls_record_send' },
  gnutls_record_send2: { entry: 'uprobe_gnutls_record_send2', ret: 'uretprobe_gnutls_record_send2' },
  gnutls_record_recv: { entry: 'uprobe_gnutls_record_recv', ret: 'uretprobe_gnutls_record_recv' },
  gnutls_record_recv_seq: { entry: 'uprobe_gnutls_record_recv_seq', ret: 'uretprobe_gnutls_record_recv_seq' },
  gnutls_deinit: { entry: 'uprobe_gnutls_deinit' },
};

type Mode = 'text' | 'keylog' | 'pcap';

/** Largest snap length the packet capture takes (ECAP_MAX_PACKET in bpf/include/events.h). */
const MAX_SNAPLEN = 65792;

/** How long after a program's exec its memory map is looked at again for GnuTLS files it mapped meanwhile. */
const LATE_SCAN_MS = 250;

interface Hooked {
  target: GnutlsTarget;
  id: number;
  links: number[];
  plan?: KeyPlan;
}

export class GnutlsModule implements CaptureModule {
  readonly name = 'gnutls' as const;
  private ctx!: ModuleContext;
  private obj: LoadedObject | undefined;
  private decoder!: TlsDataDecoder;
  private mode: Mode = 'text';
  private keySource: KeySource = 'auto';
  private forcedVersion: string | undefined;
  private keylog: KeylogWriter | undefined;
  private targets = new Map<string, Hooked>();
  private nextId = 1;
  private pending: { target: GnutlsTarget; plan?: KeyPlan }[] = [];
  private unsubscribe: (() => void) | undefined;
  private lost = 0;
  private attachFailures = 0;
  private keyCounters = { events: 0, keys: 0, duplicates: 0, rejected: 0, short: 0 };
  private final: ModuleStats | undefined;
  private keylogPath = '';
  private timers = new Set<NodeJS.Timeout>();
  // pcap mode
  private iface: NetInterface | undefined;
  private filter: CompiledFilter | undefined;
  private writer: PcapngWriter | undefined;
  private packets: PacketCapture | undefined;

  constructor(private config: Config) {}

  async init(ctx: ModuleContext): Promise<void> {
    this.ctx = ctx;
    const model = String(this.config.model ?? 'text');
    this.mode = model === 'keylog' ? 'keylog' : model === 'pcap' ? 'pcap' : 'text';
    this.keySource = (String(this.config.gnutlsKeys ?? 'auto') as KeySource) || 'auto';
    // 1. everything that can be wrong with the command line, before anything is created or attached
    let snaplen = MAX_SNAPLEN;
    if (this.mode === 'pcap') {
      assertTcSupported();
      this.iface = resolveInterface(String(this.config.ifname ?? ''));
      snaplen = Math.min(Number(this.config.snaplen ?? 0) || MAX_SNAPLEN, MAX_SNAPLEN);
      this.filter = compileFilter(String(this.config.pcapFilter ?? ''), this.iface.linkType!, snaplen, {
        compile: (e, dlt, n) => native().pcapCompile(e, dlt, n),
        haveBpfLoop: features.bpfLoop().ok,
        force: process.env.ECAPTURE_PCAP_FILTER,
      });
    }
    const sv = String(this.config.sslVersion ?? '');
    if (sv) {
      this.forcedVersion = parseForcedVersion(sv);
      if (!this.forcedVersion) {
        throw new CaptureError('ECAP_CONFIG', `--ssl_version ${sv}: not a GnuTLS version (e.g. 3.7.9) or layout name (e.g. 3_7_7)`, {
          hint: 'see offsets/gnutls.json for the known layouts',
        });
      }
    }
    const explicit = !!this.config.gnutls || Number(this.config.pid ?? 0) > 0;
    for (const t of this.findInitialTargets()) {
      if (this.mode === 'text') {
        this.pending.push({ target: t });
        continue;
      }
      const plan = keyPlan(t, this.keySource, this.forcedVersion);
      if (typeof plan === 'string') {
        if (explicit) {
          throw new CaptureError('ECAP_NO_TARGET', `${t.displayPath} (${t.info.lib}): cannot get its TLS secrets: ${plan}`, {
            hint: 'text mode still captures its plaintext (-m text)',
          });
        }
        ctx.log.warn('no key method for a GnuTLS library; skipped', { path: t.displayPath, lib: t.info.lib, reason: plan });
        continue;
      }
      this.pending.push({ target: t, plan });
    }
    if (this.pending.length === 0) {
      throw new CaptureError('ECAP_NO_TARGET', 'no GnuTLS library whose secrets can be read was found', {
        hint: 'see the warnings above; -m text captures plaintext without keys',
      });
    }
    // 2. outputs (a path we cannot write fails before anything is attached)
    if (this.mode === 'pcap') {
      const iface = this.iface!;
      this.writer = new PcapngWriter({
        path: String(this.config.pcapfile ?? '') || 'save.pcapng',
        shb: { hardware: arch(), os: `Linux ${release()}`, userAppl: 'ecapture-ts', comment: `ecapture-ts gnutls -m pcap -i ${iface.name}` },
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
    if (this.mode !== 'text') {
      this.keylogPath = String(this.config.keylogfile || 'ecapture_gnutls_key.log');
      const writer = this.writer;
      this.keylog = new KeylogWriter({ path: this.keylogPath, ...(writer ? { onLine: (line: string) => writer.addSecrets(line) } : {}) });
      ctx.log.info('Keylog handler registered', { keylog_file: this.keylogPath, capture_mode: this.mode });
    }
    // 3. BPF objects (loaded, nothing attached yet)
    this.decoder = new TlsDataDecoder('gnutls', ctx.wallClock, ctx.emit);
    const o: OpenOptions = baseLoadOptions(this.config);
    // the plaintext programs and their fd-binding tracepoints are not needed for keys, and the reverse
    const dataProgs = [...Object.values(DATA_PROGRAMS).flatMap((p) => [p!.entry, ...(p!.ret ? [p!.ret] : [])]), ...IO_TRACEPOINTS.map(([, n]) => `tp_${n}`)];
    const keyProgs = ['uprobe_gnutls_keylog', 'uprobe_gnutls_handshake', 'uretprobe_gnutls_handshake'];
    o.autoload = { ...o.autoload, ...Object.fromEntries((this.mode === 'text' ? keyProgs : dataProgs).map((n) => [n, false])) };
    this.obj = LoadedObject.load('tls/gnutls', o);
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
  }

  private findInitialTargets(): GnutlsTarget[] {
    const path = this.config.gnutls ? String(this.config.gnutls) : '';
    const pid = Number(this.config.pid ?? 0);
    if (path) {
      const t = gnutlsFinder.inspect(path);
      if (!t) {
        throw new CaptureError('ECAP_NO_TARGET', `--gnutls ${path}: not an ELF file that exports gnutls_record_send and gnutls_record_recv`, {
          hint: 'point --gnutls at libgnutls.so.30 (see `ldd $(command -v wget)`)',
        });
      }
      return [t];
    }
    if (pid > 0) {
      if (!processExists(pid)) throw new CaptureError('ECAP_NO_PROCESS', `--pid ${pid}: no such process`, { hint: 'check the pid with `ps`' });
      const ts = gnutlsFinder.ofProcess(pid);
      if (ts.length === 0) {
        throw new CaptureError('ECAP_NO_TARGET', `--pid ${pid} (${exePath(pid) ?? '?'}) maps no GnuTLS library`, {
          hint: 'the process may use another TLS library (try tls, nss, gotls) or load libgnutls later; --gnutls PATH hooks a file directly',
        });
      }
      return ts;
    }
    const byKey = new Map<string, GnutlsTarget>();
    for (const t of gnutlsFinder.system()) byKey.set(t.key, t);
    let scanned = 0;
    for (const p of listPids()) {
      if (p === process.pid) continue;
      scanned++;
      for (const t of gnutlsFinder.ofProcess(p)) if (!byKey.has(t.key)) byKey.set(t.key, t);
    }
    if (byKey.size === 0) {
      throw new CaptureError('ECAP_NO_TARGET', `no GnuTLS library found: looked for libgnutls.so* in ${libraryDirs().join(', ')} and in the maps of ${scanned} running processes`, {
        hint: 'install libgnutls30 or pass --gnutls PATH',
      });
    }
    return [...byKey.values()];
  }

  async start(): Promise<void> {
    const obj = this.obj!;
    if (this.mode === 'text') for (const [cat, name] of IO_TRACEPOINTS) obj.attachTracepoint(`tp_${name}`, cat, name);
    for (const p of this.pending.splice(0)) this.attachTarget(p.target, p.plan, true);
    const r = eventReadOptions(this.config);
    obj.readEvents('events_rb', 'events_pb', r.usePerf, r.pagesPerCpu, (s) => this.onSample(s), (n) => {
      this.lost += n;
    }, r.drainEveryMs);
    this.packets?.start();
    if (!this.config.gnutls) {
      const onlyPid = Number(this.config.pid ?? 0);
      this.unsubscribe = this.ctx.onProcess({
        exec: (pid, filename) => {
          if (onlyPid > 0 && pid !== onlyPid) return;
          this.discover(pid, filename);
        },
      });
    }
  }

  /**
   * A program started: hook its executable (GnuTLS linked in) and the libgnutls it needs (LD_LIBRARY_PATH,
   * RUNPATH and the system directories, as ld.so resolves them), at once; and, a moment later, whatever GnuTLS
   * file it mapped meanwhile (dlopen, preloads).
   */
  private discover(pid: number, filename: string): void {
    const exe = exePath(pid) ?? filename;
    for (const t of gnutlsFinder.ofNewProgram(exe, processLibraryPath(pid))) this.consider(t);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.obj) return;
      for (const t of gnutlsFinder.lateMappings(pid, new Set(this.targets.keys()))) this.consider(t);
    }, LATE_SCAN_MS);
    timer.unref();
    this.timers.add(timer);
  }

  /** Hook a file found after the start, once. */
  private consider(t: GnutlsTarget): void {
    if (this.targets.has(t.key)) return;
    let plan: KeyPlan | undefined;
    if (this.mode !== 'text') {
      const p = keyPlan(t, this.keySource, this.forcedVersion);
      if (typeof p === 'string') {
        this.ctx.log.warn('no key method for a GnuTLS library; skipped', { path: t.displayPath, lib: t.info.lib, reason: p });
        this.targets.set(t.key, { target: t, id: 0, links: [] }); // do not ask again
        return;
      }
      plan = p;
    }
    this.attachTarget(t, plan, false);
  }

  private attachTarget(t: GnutlsTarget, plan: KeyPlan | undefined, fatal: boolean): void {
    const obj = this.obj!;
    const id = this.nextId++;
    const pid = Number(this.config.pid ?? 0);
    const links: number[] = [];
    const attach = (fn: string, offset: number, progs: { entry: string; ret?: string }): void => {
      const base = { path: t.path, offset, pid, cookie: id, symbol: fn };
      links.push(obj.attachUprobe(progs.entry, base));
      if (progs.ret) links.push(obj.attachUprobe(progs.ret, { ...base, retprobe: true }));
    };
    try {
      if (this.mode === 'text') {
        for (const [fn, progs] of Object.entries(DATA_PROGRAMS) as [GnutlsFunc, { entry: string; ret?: string }][]) {
          const offset = t.offsets[fn];
          if (offset !== undefined) attach(fn, offset, progs);
        }
      } else if (plan) {
        const key = Buffer.alloc(4);
        key.writeUInt32LE(id);
        obj.update('gnutls_layouts', key, encodeLayout(plan.layout));
        const handshake = { entry: 'uprobe_gnutls_handshake', ret: 'uretprobe_gnutls_handshake' };
        if (plan.method === 'hook') {
          attach('_gnutls_call_keylog_func', plan.hookOffset!, { entry: 'uprobe_gnutls_keylog' });
          if (plan.resumedToo) attach('gnutls_handshake', t.offsets.gnutls_handshake!, handshake);
        } else {
          attach('gnutls_handshake', t.offsets.gnutls_handshake!, handshake);
        }
      }
    } catch (e) {
      for (const l of links) obj.detach(l);
      this.attachFailures++;
      if (fatal) throw e;
      this.ctx.log.warn('could not hook a GnuTLS library', { path: t.displayPath, error: (e as Error).message });
      return;
    }
    const h: Hooked = { target: t, id, links };
    if (plan) h.plan = plan;
    this.targets.set(t.key, h);
    this.decoder.libs.set(id, t.info.lib);
    const fields: Record<string, unknown> = { lib: t.info.lib, path: t.displayPath, probes: links.length };
    if (plan) {
      fields.keys = plan.method === 'hook'
        ? `key log hook at file offset 0x${plan.hookOffset!.toString(16)}${plan.resumedToo ? ' + gnutls_handshake for resumed TLS 1.2 sessions' : ''}`
        : `gnutls_handshake + layout ${plan.table?.name}`;
      for (const n of plan.notes) this.ctx.log.warn(n, { path: t.displayPath });
    }
    this.ctx.log.info('hooked', fields);
  }

  private onSample(s: Buffer): void {
    const kind = s.length >= 4 ? s.readUInt32LE(0) : 0;
    if (kind === GnutlsEventKind.EVENT_GNUTLS_KEYLOG) {
      const e = decodeGnutlsKeylogEvent(s);
      if (!e) {
        this.keyCounters.short++;
        return;
      }
      this.keyCounters.events++;
      const entry = keylogHookEntry(e);
      if (entry) this.addKey(entry, e.hdr);
      else this.keyCounters.rejected++;
    } else if (kind === GnutlsEventKind.EVENT_GNUTLS_SECRETS) {
      const e = decodeGnutlsSecretsEvent(s);
      if (!e) {
        this.keyCounters.short++;
        return;
      }
      this.keyCounters.events++;
      const entries = sessionSecretsEntries(e);
      if (entries.length === 0) this.keyCounters.rejected++;
      for (const entry of entries) this.addKey(entry, e.hdr);
    } else {
      this.decoder.handle(s);
    }
  }

  private addKey(entry: KeylogEntry, hdr: Parameters<typeof whoOf>[0]): void {
    if (!this.keylog) return;
    if (this.keylog.add(entry) === undefined) {
      this.keyCounters.duplicates++;
      return;
    }
    this.keyCounters.keys++;
    const rec: KeyRecord = {
      type: 'key',
      ts: this.ctx.wallClock(hdr.tsNs),
      module: 'gnutls',
      who: whoOf(hdr),
      label: entry.label,
      clientRandom: entry.clientRandom,
      secret: entry.secret,
    };
    if (entry.tlsVersion !== undefined) rec.tlsVersion = entry.tlsVersion;
    this.ctx.emit(rec);
  }

  /**
   * pid/uid/cgroup changes apply live in the kernel (live_filter_map) when the hooks were attached for every
   * process (no --pid at start) and no packet capture runs; anything else asks for a restart.
   */
  async reconfigure(config: Config): Promise<boolean> {
    const LIVE = new Set(['pid', 'uid', 'cgroupPath']);
    const OUTPUT = new Set(['eventaddr', 'format', 'hex', 'tsize', 'eventroratesize', 'eventroratetime', 'logaddr', 'debug', 'listen', 'ecaptureq', 'apiToken', 'idleTimeout']);
    const changed = Object.keys({ ...this.config, ...config }).filter((k) => !OUTPUT.has(k) && JSON.stringify(this.config[k]) !== JSON.stringify(config[k]));
    if (!this.obj || this.packets || Number(this.config.pid ?? 0) > 0 || !changed.every((k) => LIVE.has(k))) return false;
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
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
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
      if (s.packets === 0) this.ctx.log.warn(`nothing captured on ${this.iface?.name}: check the interface (-i) and the filter`, line);
      else this.ctx.log.info('pcapng written', line);
      if (this.final) this.final = { ...this.final, packets: s.packets, secretsBlocks: s.secretsBlocks };
    }
    if (this.keylog) {
      this.ctx.log.info('key log written', { keylogfile: this.keylogPath, lines: this.keylog.linesWritten });
      this.keylog.close();
      this.keylog = undefined;
    }
  }

  stats(): ModuleStats {
    if (!this.obj && this.final) return this.final;
    const c = this.decoder?.counters;
    const drops = this.obj ? this.obj.sumPerCpuCounters('drops', 4) : [];
    const keys = this.keyCounters;
    const p = this.packets?.counters;
    return {
      ...(p ? { packets: p.packets, packetBytes: p.bytes } : {}),
      targets: [...this.targets.values()].filter((h) => h.links.length > 0).length,
      probes: this.obj?.linkCount ?? 0,
      events: (c?.events ?? 0) + keys.events,
      bytes: c?.bytes ?? 0,
      keys: keys.keys,
      keyDuplicates: keys.duplicates,
      keyEventsRejected: keys.rejected,
      lostEvents: (drops[0]?.events ?? 0) + this.lost,
      lostBytes: (drops[0]?.bytes ?? 0) + (drops[2]?.bytes ?? 0),
      readFaults: drops[1]?.events ?? 0,
      decodeErrors: (c?.short ?? 0) + (c?.unknown ?? 0) + keys.short,
      attachFailures: this.attachFailures,
    };
  }
}
