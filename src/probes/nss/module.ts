/**
 * The `nss` module: finds the files exporting NSPR's I/O functions, loads nss.bpf.o and attaches entry/return
 * probes on PR_Write/PR_Send/PR_Writev/PR_Read/PR_Recv (+ PR_Close to forget a descriptor) of every target, with a cookie
 * naming the file; programs started later are hooked through the exec watcher. The kernel program reports only
 * calls on descriptors whose layer stack holds NSS's SSL layer (see bpf/tls/nss.bpf.c). Text mode only.
 */
import { CaptureError } from '../../errors.js';
import type { Config } from '../../config/schema.js';
import type { CaptureModule, ModuleContext, ModuleStats } from '../../registry.js';
import { LoadedObject } from '../../bpf/object.js';
import { libraryDirs } from '../../discovery/libs.js';
import { exePath, listPids, processExists } from '../../discovery/proc.js';
import { TlsDataDecoder } from '../common/tls-data.js';
import { applyLiveFilter, baseLoadOptions, eventReadOptions, IO_TRACEPOINTS } from '../common/load.js';
import { processLibraryPath } from '../gnutls/lib-targets.js';
import { nsprFinder, type NsprFunc, type NsprTarget } from './targets.js';

/** How long after a program's exec its memory map is looked at again for NSPR files it mapped meanwhile. */
const LATE_SCAN_MS = 250;

const PROGRAMS: Record<NsprFunc, { entry: string; ret?: string }> = {
  PR_Write: { entry: 'uprobe_pr_write', ret: 'uretprobe_pr_write' },
  PR_Send: { entry: 'uprobe_pr_send', ret: 'uretprobe_pr_send' },
  PR_Read: { entry: 'uprobe_pr_read', ret: 'uretprobe_pr_read' },
  PR_Recv: { entry: 'uprobe_pr_recv', ret: 'uretprobe_pr_recv' },
  PR_Writev: { entry: 'uprobe_pr_writev', ret: 'uretprobe_pr_writev' },
  PR_Close: { entry: 'uprobe_pr_close' },
};

export class NssModule implements CaptureModule {
  readonly name = 'nss' as const;
  private ctx!: ModuleContext;
  private obj: LoadedObject | undefined;
  private decoder!: TlsDataDecoder;
  private targets = new Map<string, { target: NsprTarget; id: number; links: number[] }>();
  private nextId = 1;
  private pending: NsprTarget[] = [];
  private unsubscribe: (() => void) | undefined;
  private lost = 0;
  private attachFailures = 0;
  private final: ModuleStats | undefined;
  private timers = new Set<NodeJS.Timeout>();

  constructor(private config: Config) {}

  async init(ctx: ModuleContext): Promise<void> {
    this.ctx = ctx;
    const model = String(this.config.model ?? 'text');
    if (model !== 'text') {
      throw new CaptureError('ECAP_CONFIG', `-m ${model}: not available for nss: NSS keeps TLS secrets inside its PKCS #11 token, out of reach of probes; this module captures plaintext only`, {
        hint: 'use -m text; for keys, start the NSS program with SSLKEYLOGFILE=<file> if its NSS was built with NSS_ALLOW_SSLKEYLOGFILE (Firefox is; Debian\'s libnss3 is not)',
      });
    }
    this.pending = this.findInitialTargets();
    this.decoder = new TlsDataDecoder('nss', ctx.wallClock, ctx.emit);
    this.obj = LoadedObject.load('tls/nss', baseLoadOptions(this.config));
  }

  private findInitialTargets(): NsprTarget[] {
    const path = this.config.nspr ? String(this.config.nspr) : '';
    const pid = Number(this.config.pid ?? 0);
    if (path) {
      const t = nsprFinder.inspect(path);
      if (!t) {
        const nss3 = /libnss3\.so/.test(path) || /libssl3\.so/.test(path);
        throw new CaptureError('ECAP_NO_TARGET', `--nspr ${path}: not an ELF file that exports PR_Write and PR_Read`, {
          hint: nss3
            ? 'this NSS library does not carry NSPR: point --nspr at libnspr4.so (see `ldd` of the program)'
            : 'point --nspr at libnspr4.so (or at a libnss3.so with NSPR folded in, as Firefox ships it)',
        });
      }
      return [t];
    }
    if (pid > 0) {
      if (!processExists(pid)) throw new CaptureError('ECAP_NO_PROCESS', `--pid ${pid}: no such process`, { hint: 'check the pid with `ps`' });
      const ts = nsprFinder.ofProcess(pid);
      if (ts.length === 0) {
        throw new CaptureError('ECAP_NO_TARGET', `--pid ${pid} (${exePath(pid) ?? '?'}) maps no NSPR library`, {
          hint: 'the process may use another TLS library (try tls, gnutls, gotls) or load NSS later; --nspr PATH hooks a file directly',
        });
      }
      return ts;
    }
    const byKey = new Map<string, NsprTarget>();
    for (const t of nsprFinder.system()) byKey.set(t.key, t);
    let scanned = 0;
    for (const p of listPids()) {
      if (p === process.pid) continue;
      scanned++;
      for (const t of nsprFinder.ofProcess(p)) if (!byKey.has(t.key)) byKey.set(t.key, t);
    }
    if (byKey.size === 0) {
      throw new CaptureError('ECAP_NO_TARGET', `no NSPR library found: looked for libnspr4.so in ${libraryDirs().join(', ')} and in the maps of ${scanned} running processes`, {
        hint: 'install libnspr4 or pass --nspr PATH',
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
    }, r.drainEveryMs);
    if (!this.config.nspr) {
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
   * A program started: hook its executable and the libnspr4 it needs (directly or through libnss3/libssl3;
   * LD_LIBRARY_PATH, RUNPATH and the system directories, as ld.so resolves them), at once; and, a moment later,
   * whatever NSPR file it mapped meanwhile (Firefox loads libnss3 with dlopen).
   */
  private discover(pid: number, filename: string): void {
    const exe = exePath(pid) ?? filename;
    for (const t of nsprFinder.ofNewProgram(exe, processLibraryPath(pid))) if (!this.targets.has(t.key)) this.attachTarget(t, false);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.obj) return;
      for (const t of nsprFinder.lateMappings(pid, new Set(this.targets.keys()))) if (!this.targets.has(t.key)) this.attachTarget(t, false);
    }, LATE_SCAN_MS);
    timer.unref();
    this.timers.add(timer);
  }

  private attachTarget(t: NsprTarget, fatal: boolean): void {
    const obj = this.obj!;
    const id = this.nextId++;
    const pid = Number(this.config.pid ?? 0);
    const links: number[] = [];
    try {
      for (const [fn, progs] of Object.entries(PROGRAMS) as [NsprFunc, { entry: string; ret?: string }][]) {
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
      this.ctx.log.warn('could not hook an NSPR library', { path: t.displayPath, error: (e as Error).message });
      return;
    }
    this.targets.set(t.key, { target: t, id, links });
    this.decoder.libs.set(id, t.info.lib);
    this.ctx.log.info('hooked', { lib: t.info.lib, path: t.displayPath, probes: links.length });
  }

  /** pid/uid/cgroup changes apply live (live_filter_map) when the hooks were attached for every process. */
  async reconfigure(config: Config): Promise<boolean> {
    const LIVE = new Set(['pid', 'uid', 'cgroupPath']);
    const OUTPUT = new Set(['eventaddr', 'format', 'hex', 'tsize', 'eventroratesize', 'eventroratetime', 'logaddr', 'debug', 'listen', 'ecaptureq', 'apiToken', 'idleTimeout']);
    const changed = Object.keys({ ...this.config, ...config }).filter((k) => !OUTPUT.has(k) && JSON.stringify(this.config[k]) !== JSON.stringify(config[k]));
    if (!this.obj || Number(this.config.pid ?? 0) > 0 || !changed.every((k) => LIVE.has(k))) return false;
    applyLiveFilter(this.obj, config);
    this.config = config;
    return true;
  }

  drain(): void {
    this.obj?.drain();
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.drain();
    if (this.obj) this.final = this.stats();
    this.obj?.close();
    this.obj = undefined;
  }

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
