/**
 * The `tls` module (OpenSSL, BoringSSL, OpenSSL linked statically): finds the libraries, loads the one
 * openssl.bpf.o, attaches probes to every target with a cookie naming the file (text mode: SSL_write/SSL_read/_ex
 * entries and returns; keylog/pcap modes: SSL_do_handshake entry and return, SSL_write/_ex entries; SSL_free in
 * both; where both forms of a direction call one inner function, that function instead: hookedFunctions()),
 * and keeps hooking libraries of programs started later. See docs/keylog-pcap.md for the keys and packets.
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
import { ConfigError } from '../../errors.js';
import type { ModuleContext, ModuleStats } from '../../registry.js';
import { EventKind } from '../../gen/events.js';
import { LoadedObject, rodata, type OpenOptions } from '../../bpf/object.js';
import { ElfFile } from '../../elf/elf-file.js';
import { resolveNeeded } from '../../discovery/libs.js';
import { exePath } from '../../discovery/proc.js';
import { encodeLibOffsets } from '../../tls/lib-offsets.js';
import { selectForcedLayout } from '../../tls/openssl-version.js';
import { TlsDataDecoder } from '../common/tls-data.js';
import { baseLoadOptions, IO_HOOK_PROGRAMS, IO_TRACEPOINTS } from '../common/load.js';
import { findLibraryTargets } from '../common/initial-targets.js';
import { PcapSession } from '../common/pcap-session.js';
import { type HookedTarget, TlsCaptureModule, uprobeTable, type UprobePrograms } from '../common/tls-module.js';
import { KeySink } from './keys.js';
import { describeLayout, layoutForFile, layoutMapEntry, type TargetLayout } from './layouts.js';
import { hookedFunctions, inspectSslFile, processSslTargets, systemSslTargets, type SslFunc, type SslTarget } from './targets.js';

export { MAX_SNAPLEN } from '../common/pcap-session.js';

type Programs = Partial<Record<SslFunc, UprobePrograms>>;

/** text mode: the plaintext of every read and write (the inner functions take SSL_*_ex's arguments) */
const TEXT_PROGRAMS: Programs = {
  SSL_write: { entry: 'uprobe_ssl_write', ret: 'uretprobe_ssl_write' },
  SSL_read: { entry: 'uprobe_ssl_read', ret: 'uretprobe_ssl_read' },
  SSL_write_ex: { entry: 'uprobe_ssl_write_ex', ret: 'uretprobe_ssl_write_ex' },
  SSL_read_ex: { entry: 'uprobe_ssl_read_ex', ret: 'uretprobe_ssl_read_ex' },
  ssl_write_internal: { entry: 'uprobe_ssl_write_ex', ret: 'uretprobe_ssl_write_ex' },
  ssl_read_internal: { entry: 'uprobe_ssl_read_ex', ret: 'uretprobe_ssl_read_ex' },
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
  ssl_write_internal: { entry: 'uprobe_ssl_io_keys' },
  SSL_free: { entry: 'uprobe_ssl_free' },
  SSL_do_handshake: { entry: 'uprobe_ssl_do_handshake', ret: 'uretprobe_ssl_do_handshake' },
};

/** The programs a table attaches. */
function programsOf(t: Programs): Set<string> {
  return new Set(Object.values(t).flatMap((p) => (p ? [p.entry, ...(p.ret ? [p.ret] : [])] : [])));
}

/** max_entries of a map that the loaded programs reference but never fill in this mode (not 1: LRU maps keep per-CPU free lists). */
const UNUSED_MAP_ENTRIES = 64;

export const DEFAULT_KEYLOG = 'ecapture_openssl_key.log';

export type CaptureMode = 'text' | 'keylog' | 'pcap';

export function captureMode(model: unknown): CaptureMode {
  const m = String(model ?? 'text').toLowerCase();
  if (m === 'text' || m === '') return 'text';
  if (m === 'keylog' || m === 'key') return 'keylog';
  if (m === 'pcap' || m === 'pcapng') return 'pcap';
  throw new ConfigError(`-m ${m}: unknown capture mode`, { field: 'model', hint: 'use text, keylog (key) or pcap (pcapng)' });
}

interface Hooked extends HookedTarget<SslTarget> {
  layout?: TargetLayout;
}

export class TlsModule extends TlsCaptureModule<Hooked> {
  readonly name = 'tls' as const;
  protected readonly fileOption = 'libssl';
  private mode: CaptureMode = 'text';
  private unknownSamples = 0;
  private pending: SslTarget[] = [];
  // keylog / pcap
  private forceVersion: string | undefined;
  private layouts = new Map<string, TargetLayout>();
  private keys: KeySink | undefined;
  private keylogPath = '';
  private bsslTracepoints = false;
  private started = false;

  async init(ctx: ModuleContext): Promise<void> {
    this.ctx = ctx;
    this.mode = captureMode(this.config.model);
    const keysMode = this.mode !== 'text';
    // 1. everything that can be wrong with the command line, without side effects
    if (this.mode === 'pcap') this.pcap = PcapSession.check('tls', this.config);
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
    // the pcapng file is written at least every second (its timer) and completely on close
    const writer = this.pcap?.open(String(this.config.pcapfile ?? '') || 'save.pcapng', { flushBytes: 1 << 20 });
    if (keysMode) {
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
      // the plaintext path's fd-binding hooks are not used in these modes
      o.autoload = { ...o.autoload, ...Object.fromEntries(IO_HOOK_PROGRAMS.map((n) => [n, false])) };
    } else {
      o.autoload = { ...o.autoload, ...Object.fromEntries(IO_TRACEPOINTS.map(([, n]) => [`keys_${n}`, false])) };
    }
    // Only the mode's own uprobe programs are loaded, and the other mode's hash maps are created with a token
    // size: the kernel preallocates LRU maps, and creating them was ~20 ms of each mode's startup (strace -T).
    const mine = programsOf(keysMode ? KEY_PROGRAMS : TEXT_PROGRAMS);
    for (const p of programsOf({ ...TEXT_PROGRAMS, ...KEY_PROGRAMS })) if (!mine.has(p)) (o.autoload ??= {})[p] = false;
    const unused = keysMode ? ['conns', 'active_calls', 'pending_bind'] : ['key_calls', 'keyed_conns', 'bssl_snaps'];
    o.mapSizes = { ...o.mapSizes, ...Object.fromEntries(unused.map((m) => [m, UNUSED_MAP_ENTRIES])) };
    this.obj = LoadedObject.load('tls/openssl', o);
    this.pcap?.load(this.config, ctx);
    for (const t of initial) this.pending.push(t);
  }

  private findInitialTargets(): SslTarget[] {
    return findLibraryTargets(this.config, {
      option: 'libssl',
      what: 'OpenSSL/BoringSSL',
      files: 'libssl.so*',
      notATarget: 'not an ELF file that defines SSL_write and SSL_read',
      hints: {
        file: 'point --libssl at libssl.so.* or at a binary with OpenSSL/BoringSSL linked in (with symbols)',
        pid: 'the process may use another TLS library (try gnutls, nss, gotls) or load libssl later; --libssl PATH hooks a file directly',
        none: 'pass --libssl PATH (a libssl.so or a binary with OpenSSL linked in)',
      },
      finder: {
        inspect: (path) => inspectSslFile(path, path, { allowSymtab: true }),
        ofProcess: (pid) => processSslTargets(pid),
        system: () => systemSslTargets(),
      },
    });
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

  protected usesIoTracepoints(): boolean {
    return this.mode === 'text';
  }

  protected attachInitial(): void {
    for (const t of this.pending.splice(0)) this.attachTarget(t, true);
  }

  protected sampleHandler(): (s: Buffer) => void {
    return this.mode === 'text' ? (s: Buffer) => this.decoder.handle(s) : (s: Buffer) => this.onKeySample(s);
  }

  override async start(): Promise<void> {
    await super.start();
    this.started = true;
    if (this.keys) {
      this.ctx.log.info('writing keys', { keylogfile: this.keylogPath, ...(this.pcap?.writer ? { pcapfile: this.pcap.writer.path } : {}) });
    }
  }

  private onKeySample(s: Buffer): void {
    if (s.length >= 4 && s.readUInt32LE(0) === EventKind.EVENT_MASTER_SECRET) this.keys!.handle(s);
    else this.unknownSamples++;
  }

  /** A program started: hook its executable (static OpenSSL) and the libssl it needs, before it runs far. */
  protected discover(pid: number, filename: string): void {
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

  /**
   * Text mode: give the kernel the file's struct layout when it is known exactly or the library's accessor
   * functions agree with it, so that the fd of a connection is read from SSL->rbio/wbio (ssl_struct_fd() in
   * bpf/tls/openssl.bpf.c) instead of being found through the socket operations the call makes. The kernel
   * still checks that the BIO is a descriptor BIO and the fd a socket. ECAPTURE_NO_STRUCT_FD=1 turns this off
   * (tests of the other path).
   */
  private structFdLayout(t: SslTarget, id: number): void {
    if (process.env.ECAPTURE_NO_STRUCT_FD === '1' || id >= 1024) return;
    let l: TargetLayout;
    try {
      l = layoutForFile(t.path, undefined);
    } catch {
      return;
    }
    if (!l.exact && !l.accessorsAgree) return;
    const { key, value } = layoutMapEntry(id, l);
    this.obj!.update('lib_layouts', key, value);
    this.ctx.log.debug('fd from the library struct', { path: t.displayPath, layout: describeLayout(l) });
  }

  /** BoringSSL keeps TLS 1.3 secrets only during the handshake: snapshot them at its syscalls. */
  private ensureBsslTracepoints(): void {
    if (this.bsslTracepoints) return;
    for (const [cat, name] of IO_TRACEPOINTS) this.obj!.attachTracepoint(`keys_${name}`, cat, name);
    this.bsslTracepoints = true;
  }

  private attachTarget(t: SslTarget, fatal: boolean): void {
    const id = this.targets.size + 1;
    let layout: TargetLayout | undefined;
    const table = this.mode === 'text' ? TEXT_PROGRAMS : KEY_PROGRAMS;
    const fns = hookedFunctions(t.offsets);
    const links = this.hook(t, id, fatal, 'a TLS library', (uprobe) => {
      if (this.mode === 'text') {
        this.structFdLayout(t, id);
      } else {
        layout = this.layoutFor(t);
        if (id < 1024) {
          const { key, value } = layoutMapEntry(id, layout);
          this.obj!.update('lib_layouts', key, value);
        } else {
          this.ctx.log.warn('more than 1023 TLS libraries hooked: this one uses the default layout', { path: t.displayPath });
        }
        if (layout.kind === 'boringssl') this.ensureBsslTracepoints();
      }
      uprobeTable(uprobe, table, fns);
    });
    if (!links) return;
    this.targets.set(t.key, { target: t, id, links, ...(layout ? { layout } : {}) });
    this.decoder.libs.set(id, t.lib);
    this.ctx.log.info('hooked', { lib: t.lib, path: t.displayPath, probes: links.length, functions: Object.keys(fns).filter((f) => f in table).join(' '), ...(layout ? { layout: layout.layout } : {}) });
  }

  protected override closeOutputs(): void {
    // init or start failed: the error says why; no summary
    const s = this.pcap?.close(this.ctx.log, this.started);
    if (s && this.final) this.final = { ...this.final, packets: s.packets, secretsBlocks: s.secretsBlocks, releasedWithoutKeys: s.releasedWithoutKeys };
    if (this.keys) {
      if (this.started) this.ctx.log.info('key log written', { keylogfile: this.keylogPath, lines: this.keys.counters.lines, connections: this.keys.counters.events });
      this.keys.close();
      this.keys = undefined;
    }
  }

  protected liveStats(): ModuleStats {
    const drops = this.drops();
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
    const packets = this.pcap?.packets;
    const p = packets?.counters;
    const kc = packets?.kernelCounters() ?? {};
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
