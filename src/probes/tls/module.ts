/**
 * The `tls` module (OpenSSL, BoringSSL, OpenSSL linked statically): finds the libraries, loads the one
 * openssl.bpf.o, attaches entry/return probes on SSL_write/SSL_read/_ex (+ SSL_free) of every target with
 * a cookie naming the file, and keeps hooking libraries of programs started later.
 */
import { dirname } from 'node:path';
import { CaptureError } from '../../errors.js';
import type { Config } from '../../config/schema.js';
import type { CaptureModule, ModuleContext, ModuleStats } from '../../registry.js';
import { LoadedObject } from '../../bpf/object.js';
import { ElfFile } from '../../elf/elf-file.js';
import { libraryDirs, resolveNeeded } from '../../discovery/libs.js';
import { exePath, listPids, processExists } from '../../discovery/proc.js';
import { TlsDataDecoder } from '../common/tls-data.js';
import { baseLoadOptions, eventReadOptions, IO_TRACEPOINTS } from '../common/load.js';
import { inspectSslFile, processSslTargets, systemSslTargets, type SslFunc, type SslTarget } from './targets.js';

const PROGRAMS: Record<SslFunc, { entry: string; ret?: string }> = {
  SSL_write: { entry: 'uprobe_ssl_write', ret: 'uretprobe_ssl_write' },
  SSL_read: { entry: 'uprobe_ssl_read', ret: 'uretprobe_ssl_read' },
  SSL_write_ex: { entry: 'uprobe_ssl_write_ex', ret: 'uretprobe_ssl_write_ex' },
  SSL_read_ex: { entry: 'uprobe_ssl_read_ex', ret: 'uretprobe_ssl_read_ex' },
  SSL_free: { entry: 'uprobe_ssl_free' },
};

export class TlsModule implements CaptureModule {
  readonly name = 'tls' as const;
  private ctx!: ModuleContext;
  private obj: LoadedObject | undefined;
  private decoder!: TlsDataDecoder;
  private targets = new Map<string, { target: SslTarget; id: number; links: number[] }>();
  private unsubscribe: (() => void) | undefined;
  private lost = 0;
  private attachFailures = 0;

  constructor(private config: Config) {}

  async init(ctx: ModuleContext): Promise<void> {
    this.ctx = ctx;
    const model = String(this.config.model ?? 'text');
    if (model !== 'text') {
      throw new CaptureError('ECAP_CONFIG', `-m ${model}: this build captures plaintext only (text mode); keylog and pcap modes are not available yet`, {
        hint: 'use -m text',
      });
    }
    const initial = this.findInitialTargets();
    this.decoder = new TlsDataDecoder('tls', ctx.wallClock, ctx.emit);
    this.obj = LoadedObject.load('tls/openssl', baseLoadOptions(this.config));
    for (const t of initial) this.pending.push(t);
  }

  private pending: SslTarget[] = [];

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

  async start(): Promise<void> {
    const obj = this.obj!;
    for (const [cat, name] of IO_TRACEPOINTS) obj.attachTracepoint(`tp_${name}`, cat, name);
    for (const t of this.pending.splice(0)) this.attachTarget(t, true);
    const r = eventReadOptions(this.config);
    obj.readEvents('events_rb', 'events_pb', r.usePerf, r.pagesPerCpu, (s) => this.decoder.handle(s), (n) => {
      this.lost += n;
    });
    if (!this.config.libssl) {
      const onlyPid = Number(this.config.pid ?? 0);
      this.unsubscribe = this.ctx.onProcess({
        exec: (pid, filename) => {
          if (onlyPid > 0 && pid !== onlyPid) return;
          this.discover(pid, filename);
        },
      });
    }
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

  private attachTarget(t: SslTarget, fatal: boolean): void {
    const obj = this.obj!;
    const id = this.targets.size + 1;
    const pid = Number(this.config.pid ?? 0);
    const links: number[] = [];
    try {
      for (const [fn, progs] of Object.entries(PROGRAMS) as [SslFunc, { entry: string; ret?: string }][]) {
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
    this.targets.set(t.key, { target: t, id, links });
    this.decoder.libs.set(id, t.lib);
    this.ctx.log.info('hooked', { lib: t.lib, path: t.displayPath, probes: links.length });
  }

  async reconfigure(config: Config): Promise<boolean> {
    this.config = config;
    return false;
  }

  drain(): void {
    this.obj?.drain();
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    if (this.obj) this.final = this.stats();
    this.obj?.close();
    this.obj = undefined;
  }

  private final: ModuleStats | undefined;

  stats(): ModuleStats {
    if (!this.obj && this.final) return this.final;
    const c = this.decoder?.counters;
    const drops = this.obj ? this.obj.sumPerCpuCounters('drops', 4) : [];
    return {
      targets: this.targets.size,
      probes: this.obj?.linkCount ?? 0,
      events: c?.events ?? 0,
      bytes: c?.bytes ?? 0,
      lostEvents: (drops[0]?.events ?? 0) + this.lost,
      lostBytes: (drops[0]?.bytes ?? 0) + (drops[2]?.bytes ?? 0),
      readFaults: drops[1]?.events ?? 0,
      decodeErrors: (c?.short ?? 0) + (c?.unknown ?? 0),
      attachFailures: this.attachFailures,
    };
  }
}
