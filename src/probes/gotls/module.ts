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
import { CaptureError } from '../../errors.js';
import type { Config } from '../../config/schema.js';
import type { ModuleContext, ModuleStats } from '../../registry.js';
import { LoadedObject, type OpenOptions } from '../../bpf/object.js';
import { EventKind, decodeGoKeylogEvent } from '../../gen/events.js';
import { features } from '../../bpf/features.js';
import { TlsDataDecoder } from '../common/tls-data.js';
import { baseLoadOptions, IO_HOOK_PROGRAMS } from '../common/load.js';
import { requireProcess, scanRunningProcesses } from '../common/initial-targets.js';
import { KeyLog } from '../common/key-log.js';
import { PcapSession } from '../common/pcap-session.js';
import { type HookedTarget, TlsCaptureModule } from '../common/tls-module.js';
import {
  describeTarget, inspectGoFile, processExePath, processGoTarget, probeGoFile, saveGoTargetCache, type GoTlsTarget,
} from './discovery.js';
import { GOTLS_KEYLOG_SYMBOL, GOTLS_READ_SYMBOL, GOTLS_WRITE_SYMBOL } from '../../elf/go/index.js';
import { encodeGoTarget, goKeylogEntry } from './wire.js';

type Mode = 'text' | 'keylog' | 'pcap';


/** Maps and programs of tls_data.bpf.h that only the entry/return path of the C libraries uses. */
const UNUSED_PROGRAMS = IO_HOOK_PROGRAMS;
const UNUSED_MAPS = ['active_calls', 'pending_bind'];

export const DEFAULT_KEYLOG = 'ecapture_gotls_key.log';
export const DEFAULT_PCAP = 'ecapture_gotls.pcapng';

export class GoTlsModule extends TlsCaptureModule<HookedTarget<GoTlsTarget>> {
  readonly name = 'gotls' as const;
  protected readonly fileOption = 'elfpath';
  private mode: Mode = 'text';
  private keys = new KeyLog('gotls');
  /** files looked at by discovery that are not targets (dev:ino), so exec events do not re-check them */
  private skipped = new Set<string>();
  private pending: GoTlsTarget[] = [];

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
    if (this.mode === 'pcap') this.pcap = PcapSession.check('gotls', this.config);
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
    const writer = this.pcap?.open(String(this.config.pcapfile ?? '') || DEFAULT_PCAP);
    if (this.mode !== 'text') {
      const keylogPath = String(this.config.keylogfile ?? '') || DEFAULT_KEYLOG;
      this.keys.open(keylogPath, ctx, writer);
      ctx.log.info(this.mode === 'pcap' ? 'Pcap handler registered' : 'Keylog handler registered', {
        keylog_file: keylogPath, capture_mode: this.mode, ...(writer ? { pcapfile: writer.path } : {}),
      });
    }
    this.decoder = new TlsDataDecoder('gotls', ctx.wallClock, ctx.emit);

    // 3. BPF objects (loaded, nothing attached yet)
    const opts: OpenOptions = baseLoadOptions(this.config);
    opts.autoload = Object.fromEntries(UNUSED_PROGRAMS.map((p) => [p, false]));
    opts.autocreate = { ...opts.autocreate, ...Object.fromEntries(UNUSED_MAPS.map((m) => [m, false])) };
    this.obj = LoadedObject.load('tls/gotls', opts);
    this.pcap?.load(this.config, ctx);
  }

  private get explicit(): boolean {
    return !!this.config.elfpath || Number(this.config.pid ?? 0) > 0;
  }

  private findInitialTargets(): GoTlsTarget[] {
    const elfpath = this.config.elfpath ? String(this.config.elfpath) : '';
    const pid = Number(this.config.pid ?? 0);
    if (elfpath) return [inspectGoFile(elfpath)];
    if (pid > 0) {
      requireProcess(pid);
      const p = processExePath(pid);
      if (!p) throw new CaptureError('ECAP_NO_PROCESS', `--pid ${pid}: cannot read its executable (/proc/${pid}/exe)`, { hint: 'run as root; the process may have exited' });
      try {
        return [inspectGoFile(p.path, p.displayPath)];
      } catch (e) {
        const ce = e as CaptureError;
        throw new CaptureError(ce.code ?? 'ECAP_NO_TARGET', `--pid ${pid}: ${ce.message}`, { cause: e, hint: ce.hint, details: ce.details });
      }
    }
    const { byKey, scanned } = scanRunningProcesses((p) => {
      const r = processGoTarget(p);
      return 'skip' in r ? [] : [r];
    });
    if (byKey.size === 0) {
      this.ctx.log.info('no running Go program uses crypto/tls; waiting for new ones', { processes: scanned });
    }
    return [...byKey.values()];
  }

  protected usesIoTracepoints(): boolean {
    return false;
  }

  protected attachInitial(): void {
    for (const t of this.pending.splice(0)) this.attachTarget(t, this.explicit);
  }

  protected sampleHandler(): (s: Buffer) => void {
    return (s) => this.onSample(s);
  }

  /** A program started: hook it if it is a Go program using crypto/tls, before it gets far. */
  protected discover(pid: number, filename: string): void {
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
    const id = this.nextId++;
    const links = this.hook(t, id, fatal, 'a Go program', (uprobe) => {
      const attach = (entry: string, symbol: string, offset: number): void => uprobe(symbol, offset, { entry });
      const key = Buffer.alloc(4);
      key.writeUInt32LE(id);
      this.obj!.update('go_targets', key, encodeGoTarget(t));
      if (this.mode === 'text') {
        attach('uprobe_gotls_write', GOTLS_WRITE_SYMBOL, t.write);
        t.readRets.forEach((off, i) => attach('uprobe_gotls_read_ret', `${GOTLS_READ_SYMBOL} RET #${i + 1} (+0x${off.toString(16)})`, off));
        if (t.close !== undefined) attach('uprobe_gotls_close', 'crypto/tls.(*Conn).Close', t.close);
      } else if (t.keylog !== undefined) {
        attach('uprobe_gotls_keylog', GOTLS_KEYLOG_SYMBOL, t.keylog);
      }
    });
    if (!links) {
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
    const e = this.keys.event(decodeGoKeylogEvent(s));
    if (!e) return;
    const entry = goKeylogEntry(e);
    if ('reject' in entry) {
      this.keys.counters.rejected++;
      this.ctx.log.debug('key log event rejected', { reason: entry.reject, pid: e.hdr.pid });
      return;
    }
    this.keys.add(entry, e.hdr);
  }

  override async reconfigure(config: Config): Promise<boolean> {
    this.config = config;
    return false;
  }

  protected override closeOutputs(): void {
    const s = this.pcap?.close(this.ctx.log);
    if (s && this.final) this.final = { ...this.final, packets: s.packets, secretsBlocks: s.secretsBlocks, releasedWithoutKeys: s.releasedWithoutKeys };
    this.keys.close();
    saveGoTargetCache();
  }

  protected liveStats(): ModuleStats {
    const c = this.decoder?.counters;
    const keys = this.keys.counters;
    const p = this.pcap?.packets?.counters;
    const kc = this.pcap?.packets?.kernelCounters() ?? {};
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
      ...this.losses(kc.ringFull ?? 0),
      decodeErrors: (c?.short ?? 0) + (c?.unknown ?? 0) + keys.short + (p?.short ?? 0) + (p?.unknown ?? 0),
      attachFailures: this.attachFailures,
    };
  }
}
