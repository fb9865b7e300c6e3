/**
 * The `gotls` module: Go programs' own crypto/tls. Loads the one gotls.bpf.o and, per Go binary (attach cookie =
 * target id, whose settings go into the go_targets map first):
 *   text mode:   uprobes at writeRecordLocked's entry, at every RET of (*Conn).Read, at (*Conn).Close's entry;
 *                the events are tls_data events, decoded by the same TlsDataDecoder as the C libraries';
 *   keylog mode: a uprobe at (*Config).writeKeyLog's entry; each call is one NSS key log line (KeyRecord + -k file);
 *   pcap mode:   the same key probe, plus the tls module's TC packet capture (src/probes/tls/packets.ts) of one
 *                interface into a pcapng file whose Decryption Secrets Blocks precede the packets they decrypt;
 *                the -k key log file is written too (as eCapture does).
 * Targets: --elfpath; else the executable of --pid; else every running Go program that links crypto/tls, plus
 * those started later (exec watcher).
 */
import { arch, release } from 'node:os';
import { CaptureError } from '../../errors.js';
import type { Config } from '../../config/schema.js';
import type { CaptureModule, ModuleContext, ModuleStats } from '../../registry.js';
import type { KeyRecord } from '../../model/records.js';
import { LoadedObject, type OpenOptions } from '../../bpf/object.js';
import { listPids, processExists } from '../../discovery/proc.js';
import { EventKind, decodeGoKeylogEvent } from '../../gen/events.js';
import { KeylogWriter } from '../../tls/keylog.js';
import { features } from '../../bpf/features.js';
import { native } from '../../bpf/native.js';
import { PcapngWriter } from '../../output/pcapng/writer.js';
import { compileFilter, type CompiledFilter } from '../tls/cbpf.js';
import { resolveInterface, type NetInterface } from '../tls/iface.js';
import { PacketCapture, assertTcSupported } from '../tls/packets.js';
import { TlsDataDecoder, whoOf } from '../common/tls-data.js';
import { baseLoadOptions, eventReadOptions, IO_TRACEPOINTS } from '../common/load.js';
import {
  describeTarget, inspectGoFile, processExePath, processGoTarget, probeGoFile, saveGoTargetCache, type GoTlsTarget,
} from './discovery.js';
import { GOTLS_KEYLOG_SYMBOL, GOTLS_READ_SYMBOL, GOTLS_WRITE_SYMBOL } from '../../elf/go/index.js';
import { encodeGoTarget, goKeylogEntry } from './wire.js';

type Mode = 'text' | 'keylog' | 'pcap';

interface Hooked {
  target: GoTlsTarget;
  id: number;
  links: number[];
}

/** Maps and programs of tls_data.bpf.h that only the entry/return path of the C libraries uses. */
const UNUSED_PROGRAMS = IO_TRACEPOINTS.map(([, n]) => `tp_${n}`);
const UNUSED_MAPS = ['active_calls', 'pending_bind'];

/** Largest snap length (ECAP_MAX_PACKET in bpf/include/events.h). */
const MAX_SNAPLEN = 65792;
export const DEFAULT_KEYLOG = 'ecapture_gotls_key.log';
export const DEFAULT_PCAP = 'ecapture_gotls.pcapng';

export class GoTlsModule implements CaptureModule {
  readonly name = 'gotls' as const;
  private ctx!: ModuleContext;
  private obj: LoadedObject | undefined;
  private decoder!: TlsDataDecoder;
  private mode: Mode = 'text';
  private keylog: KeylogWriter | undefined;
  private keylogPath = '';
  // pcap mode
  private writer: PcapngWriter | undefined;
  private packets: PacketCapture | undefined;
  private iface: NetInterface | undefined;
  private filter: CompiledFilter | undefined;
  private targets = new Map<string, Hooked>();
  /** files looked at by discovery that are not targets (dev:ino), so exec events do not re-check them */
  private skipped = new Set<string>();
  private nextId = 1;
  private pending: GoTlsTarget[] = [];
  private unsubscribe: (() => void) | undefined;
  private lost = 0;
  private attachFailures = 0;
  private keyCounters = { events: 0, keys: 0, duplicates: 0, rejected: 0, short: 0 };
  private final: ModuleStats | undefined;

  constructor(private config: Config) {}

  async init(ctx: ModuleContext): Promise<void> {
    this.ctx = ctx;
    const model = String(this.config.model ?? 'text');
    this.mode = model === 'keylog' || model === 'key' ? 'keylog' : model === 'pcap' || model === 'pcapng' ? 'pcap' : 'text';
    // 1. what can be wrong with the command line, before anything is created or attached
    const cookies = features.attachCookie();
    if (!cookies.ok) {
      // every probe finds its binary's ABI and offsets through the attach cookie (go_targets map)
      throw new CaptureError('ECAP_KERNEL_FEATURE', `gotls: ${cookies.name} not supported (needs ${cookies.requires})`, {
        hint: 'run on Linux 5.15 or newer',
      });
    }
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
    for (const t of this.findInitialTargets()) {
      if (this.mode !== 'text' && t.keylog === undefined) {
        if (this.explicit) {
          throw new CaptureError('ECAP_ATTACH_NO_SYMBOL', `function ${GOTLS_KEYLOG_SYMBOL} not found in ${t.displayPath}: its TLS keys cannot be captured (the linker dropped it or it was inlined)`, {
            hint: 'text mode still captures its plaintext (-m text)',
          });
        }
        ctx.log.warn('Go program without writeKeyLog; skipped', { path: t.displayPath });
        continue;
      }
      this.pending.push(t);
    }
    // 2. outputs (a path we cannot write fails here, before anything is attached)
    if (this.mode === 'pcap') {
      const iface = this.iface!;
      this.writer = new PcapngWriter({
        path: String(this.config.pcapfile ?? '') || DEFAULT_PCAP,
        shb: { hardware: arch(), os: `Linux ${release()}`, userAppl: 'ecapture-ts', comment: `ecapture-ts gotls -m pcap -i ${iface.name}` },
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
      this.keylogPath = String(this.config.keylogfile ?? '') || DEFAULT_KEYLOG;
      const writer = this.writer;
      // the DSB goes into the pcapng file the moment the line is new: held packets of its connection follow it
      this.keylog = new KeylogWriter({ path: this.keylogPath, ...(writer ? { onLine: (line: string) => writer.addSecrets(line) } : {}) });
      ctx.log.info(this.mode === 'pcap' ? 'Pcap handler registered' : 'Keylog handler registered', {
        keylog_file: this.keylogPath, capture_mode: this.mode, ...(writer ? { pcapfile: writer.path } : {}),
      });
    }
    this.decoder = new TlsDataDecoder('gotls', ctx.wallClock, ctx.emit);

    // 3. BPF objects (loaded, nothing attached yet)
    const opts: OpenOptions = baseLoadOptions(this.config);
    opts.autoload = Object.fromEntries(UNUSED_PROGRAMS.map((p) => [p, false]));
    opts.autocreate = { ...opts.autocreate, ...Object.fromEntries(UNUSED_MAPS.map((m) => [m, false])) };
    this.obj = LoadedObject.load('tls/gotls', opts);
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

  private get explicit(): boolean {
    return !!this.config.elfpath || Number(this.config.pid ?? 0) > 0;
  }

  private findInitialTargets(): GoTlsTarget[] {
    const elfpath = this.config.elfpath ? String(this.config.elfpath) : '';
    const pid = Number(this.config.pid ?? 0);
    if (elfpath) return [inspectGoFile(elfpath)];
    if (pid > 0) {
      if (!processExists(pid)) throw new CaptureError('ECAP_NO_PROCESS', `--pid ${pid}: no such process`, { hint: 'check the pid with `ps`' });
      const p = processExePath(pid);
      if (!p) throw new CaptureError('ECAP_NO_PROCESS', `--pid ${pid}: cannot read its executable (/proc/${pid}/exe)`, { hint: 'run as root; the process may have exited' });
      try {
        return [inspectGoFile(p.path, p.displayPath)];
      } catch (e) {
        const ce = e as CaptureError;
        throw new CaptureError(ce.code ?? 'ECAP_NO_TARGET', `--pid ${pid}: ${ce.message}`, { cause: e, hint: ce.hint, details: ce.details });
      }
    }
    const byKey = new Map<string, GoTlsTarget>();
    let scanned = 0;
    for (const p of listPids()) {
      if (p === process.pid) continue;
      scanned++;
      const r = processGoTarget(p);
      if ('skip' in r) continue;
      if (!byKey.has(r.key)) byKey.set(r.key, r);
    }
    if (byKey.size === 0) {
      this.ctx.log.info('no running Go program uses crypto/tls; waiting for new ones', { processes: scanned });
    }
    return [...byKey.values()];
  }

  async start(): Promise<void> {
    const obj = this.obj!;
    for (const t of this.pending.splice(0)) this.attachTarget(t, this.explicit);
    const r = eventReadOptions(this.config);
    obj.readEvents('events_rb', 'events_pb', r.usePerf, r.pagesPerCpu, (s) => this.onSample(s), (n) => {
      this.lost += n;
    }, r.drainEveryMs);
    this.packets?.start();
    if (!this.config.elfpath) {
      const onlyPid = Number(this.config.pid ?? 0);
      this.unsubscribe = this.ctx.onProcess({
        exec: (pid, filename) => {
          // with --pid, the process may exec another Go program under the same pid
          if (onlyPid > 0 && pid !== onlyPid) return;
          this.discover(pid, filename);
        },
      });
    }
  }

  /** A program started: hook it if it is a Go program using crypto/tls, before it gets far. */
  private discover(pid: number, filename: string): void {
    let r = processGoTarget(pid);
    if ('skip' in r && r.skip === 'process gone' && filename.startsWith('/')) r = probeGoFile(filename);
    if ('skip' in r) {
      return;
    }
    if (this.targets.has(r.key) || this.skipped.has(r.key)) return;
    if (this.mode !== 'text' && r.keylog === undefined) {
      this.ctx.log.warn('Go program without writeKeyLog; skipped', { path: r.displayPath });
      this.skipped.add(r.key);
      return;
    }
    this.attachTarget(r, false);
  }

  private attachTarget(t: GoTlsTarget, fatal: boolean): void {
    const obj = this.obj!;
    const id = this.nextId++;
    const pid = Number(this.config.pid ?? 0);
    const links: number[] = [];
    const attach = (program: string, symbol: string, offset: number): void => {
      links.push(obj.attachUprobe(program, { path: t.path, offset, pid, cookie: id, symbol }));
    };
    try {
      const key = Buffer.alloc(4);
      key.writeUInt32LE(id);
      obj.update('go_targets', key, encodeGoTarget(t));
      if (this.mode === 'text') {
        attach('uprobe_gotls_write', GOTLS_WRITE_SYMBOL, t.write);
        t.readRets.forEach((off, i) => attach('uprobe_gotls_read_ret', `${GOTLS_READ_SYMBOL} RET #${i + 1} (+0x${off.toString(16)})`, off));
        if (t.close !== undefined) attach('uprobe_gotls_close', 'crypto/tls.(*Conn).Close', t.close);
      } else if (t.keylog !== undefined) {
        attach('uprobe_gotls_keylog', GOTLS_KEYLOG_SYMBOL, t.keylog);
      }
    } catch (e) {
      for (const l of links) obj.detach(l);
      this.attachFailures++;
      if (fatal) throw e;
      this.ctx.log.warn('could not hook a Go program', { path: t.displayPath, error: (e as Error).message });
      this.skipped.add(t.key);
      return;
    }
    this.targets.set(t.key, { target: t, id, links });
    const lib = describeTarget(t);
    this.decoder.libs.set(id, lib);
    this.ctx.log.info('hooked', { lib, path: t.displayPath, probes: links.length, mode: this.mode });
    for (const w of t.warnings) this.ctx.log.warn(w, { path: t.displayPath });
  }

  private onSample(s: Buffer): void {
    const kind = s.length >= 4 ? s.readUInt32LE(0) : 0;
    if (kind !== EventKind.EVENT_GO_KEYLOG) {
      this.decoder.handle(s);
      return;
    }
    const e = decodeGoKeylogEvent(s);
    if (!e) {
      this.keyCounters.short++;
      return;
    }
    this.keyCounters.events++;
    const entry = goKeylogEntry(e);
    if ('reject' in entry) {
      this.keyCounters.rejected++;
      this.ctx.log.debug('key log event rejected', { reason: entry.reject, pid: e.hdr.pid });
      return;
    }
    if (!this.keylog) return;
    if (this.keylog.add(entry) === undefined) {
      this.keyCounters.duplicates++;
      return;
    }
    this.keyCounters.keys++;
    const rec: KeyRecord = {
      type: 'key',
      ts: this.ctx.wallClock(e.hdr.tsNs),
      module: 'gotls',
      who: whoOf(e.hdr),
      label: entry.label,
      clientRandom: entry.clientRandom,
      secret: entry.secret,
    };
    if (entry.tlsVersion !== undefined) rec.tlsVersion = entry.tlsVersion;
    this.ctx.emit(rec);
  }

  async reconfigure(config: Config): Promise<boolean> {
    this.config = config;
    return false;
  }

  drain(): void {
    this.obj?.drain();
    this.packets?.drain();
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
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
      if (this.final) this.final = { ...this.final, packets: s.packets, secretsBlocks: s.secretsBlocks, releasedWithoutKeys: s.releasedWithoutKeys };
    }
    if (this.keylog) {
      this.ctx.log.info('key log written', { keylogfile: this.keylogPath, lines: this.keylog.linesWritten });
      this.keylog.close();
      this.keylog = undefined;
    }
    saveGoTargetCache();
  }

  stats(): ModuleStats {
    if (!this.obj && this.final) return this.final;
    const c = this.decoder?.counters;
    const drops = this.obj ? this.obj.sumPerCpuCounters('drops', 4) : [];
    const keys = this.keyCounters;
    const p = this.packets?.counters;
    const kc = this.packets?.kernelCounters() ?? {};
    const packets: ModuleStats = this.mode === 'pcap'
      ? {
          packets: p?.packets ?? 0,
          packetBytes: p?.bytes ?? 0,
          packetsFilteredInKernel: kc.filteredKernel ?? 0,
          packetsFilteredInUser: p?.userFiltered ?? 0,
          packetsOwned: p?.owned ?? 0,
        }
      : {};
    return {
      ...packets,
      targets: this.targets.size,
      probes: this.obj?.linkCount ?? 0,
      events: (c?.events ?? 0) + keys.events + (p?.packets ?? 0),
      bytes: (c?.bytes ?? 0) + (p?.bytes ?? 0),
      keys: keys.keys,
      keyDuplicates: keys.duplicates,
      keyEventsRejected: keys.rejected,
      lostEvents: (drops[0]?.events ?? 0) + this.lost + (kc.ringFull ?? 0),
      lostBytes: (drops[0]?.bytes ?? 0) + (drops[2]?.bytes ?? 0),
      readFaults: drops[1]?.events ?? 0,
      decodeErrors: (c?.short ?? 0) + (c?.unknown ?? 0) + keys.short + (p?.short ?? 0) + (p?.unknown ?? 0),
      attachFailures: this.attachFailures,
    };
  }
}
