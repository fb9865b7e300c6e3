/**
 * What the TLS capture modules (tls, gnutls, gotls, nss) share, so that each of them says only what is special
 * about its library (how targets are found and hooked, what its events are, its counters):
 *   - one loaded capture object whose uprobes carry the target's id as attach cookie;
 *   - start(): the fd-binding hooks of bpf/lib/tls_data.bpf.h (when used), the targets found by init(),
 *     the event reader, the pcap session (if any), and the exec watcher that hooks programs started later
 *     (not when the user named one file);
 *   - hook(): attach a target's probes, all or none;
 *   - later(): late scans of a new program, cancelled by close();
 *   - reconfigure(): the process filter changes live (live_filter_map);
 *   - drain(), close(), and stats() frozen at close.
 */
import type { Config } from '../../config/schema.js';
import type { CaptureModule, ModuleContext, ModuleStats } from '../../registry.js';
import type { ModuleName } from '../../model/records.js';
import type { LoadedObject } from '../../bpf/object.js';
import { exePath } from '../../discovery/proc.js';
import type { TlsDataDecoder } from './tls-data.js';
import { applyLiveFilter, attachIoHooks, eventReadOptions, onlyFilterChanged } from './load.js';
import type { PcapSession } from './pcap-session.js';
import { processLibraryPath } from './lib-finder.js';

/** Entry program and, for functions whose return matters, return program of one hooked function. */
export interface UprobePrograms {
  entry: string;
  ret?: string;
}

/** Attach `progs` at `offset` of the target being hooked; `symbol` names the place in errors and listings. */
export type Uprobe = (symbol: string, offset: number, progs: UprobePrograms) => void;

/** Hook every function of `table` that the target defines (`offsets`), in the table's order. */
export function uprobeTable<F extends string>(uprobe: Uprobe, table: Partial<Record<F, UprobePrograms>>, offsets: Partial<Record<F, number>>): void {
  for (const [fn, progs] of Object.entries(table) as [F, UprobePrograms][]) {
    const offset = offsets[fn];
    if (offset !== undefined) uprobe(fn, offset, progs);
  }
}

/** How long after a program's exec its memory map is looked at again for library files it mapped meanwhile. */
export const LATE_SCAN_MS = 250;

/** A finder of library files that new programs need or map (LibFinder, lib-finder.ts). */
export interface NewProgramFinder<T> {
  ofNewProgram(exe: string, libPath: readonly string[]): T[];
  lateMappings(pid: number, known: ReadonlySet<string>): T[];
}


/** A hooked file: its id (the attach cookie) and the links of its probes. */
export interface HookedTarget<T> {
  target: T;
  id: number;
  links: number[];
}

export abstract class TlsCaptureModule<H extends HookedTarget<unknown>> implements CaptureModule {
  abstract readonly name: ModuleName;
  protected ctx!: ModuleContext;
  protected obj: LoadedObject | undefined;
  protected decoder!: TlsDataDecoder;
  /** pcap mode only */
  protected pcap: PcapSession | undefined;
  /** hooked files by dev:ino */
  protected targets = new Map<string, H>();
  protected nextId = 1;
  protected lost = 0;
  protected attachFailures = 0;
  /** the counters at close */
  protected final: ModuleStats | undefined;
  private unsubscribe: (() => void) | undefined;
  private timers = new Set<NodeJS.Timeout>();

  constructor(protected config: Config) {}

  abstract init(ctx: ModuleContext): Promise<void>;

  /** The option naming one file to hook (--libssl, …): when given, programs started later are not looked at. */
  protected abstract readonly fileOption: string;
  /** Whether start() attaches the fd-binding hooks (attachIoHooks()). */
  protected abstract usesIoTracepoints(): boolean;
  /** Attach what init() found; an error is fatal. */
  protected abstract attachInitial(): void;
  /** The handler of the object's events. */
  protected abstract sampleHandler(): (s: Buffer) => void;
  /** A program started (exec watcher): hook what it uses. */
  protected abstract discover(pid: number, filename: string): void;
  /** The counters while the object is loaded. */
  protected abstract liveStats(): ModuleStats;

  async start(): Promise<void> {
    const obj = this.obj!;
    if (this.usesIoTracepoints()) this.ctx.log.debug('fd-binding hooks', { hooks: attachIoHooks(obj) });
    this.attachInitial();
    const r = eventReadOptions(this.config);
    obj.readEvents('events_rb', 'events_pb', r.usePerf, r.pagesPerCpu, this.sampleHandler(), (n) => {
      this.lost += n;
    }, r.drainEveryMs);
    this.pcap?.start();
    if (!this.config[this.fileOption]) {
      const onlyPid = Number(this.config.pid ?? 0);
      this.unsubscribe = this.ctx.onProcess({
        exec: (pid, filename) => {
          // with --pid, the process may exec another program under the same pid
          if (onlyPid > 0 && pid !== onlyPid) return;
          this.discover(pid, filename);
        },
      });
    }
  }

  /**
   * Hook one target with the probes `body` attaches through `uprobe` (attach cookie `id`, --pid if given). On a
   * failure what was attached is detached again and the failure counted; it is thrown when `fatal`, else logged
   * as "could not hook <what>". The links, or undefined after a failure.
   */
  protected hook(t: { path: string; displayPath: string }, id: number, fatal: boolean, what: string, body: (uprobe: Uprobe) => void): number[] | undefined {
    const obj = this.obj!;
    const pid = Number(this.config.pid ?? 0);
    const links: number[] = [];
    const uprobe: Uprobe = (symbol, offset, progs) => {
      const base = { path: t.path, offset, pid, cookie: id, symbol };
      links.push(obj.attachUprobe(progs.entry, base));
      if (progs.ret) links.push(obj.attachUprobe(progs.ret, { ...base, retprobe: true }));
    };
    try {
      body(uprobe);
    } catch (e) {
      for (const l of links) obj.detach(l);
      this.attachFailures++;
      if (fatal) throw e;
      this.ctx.log.warn(`could not hook ${what}`, { path: t.displayPath, error: (e as Error).message });
      return undefined;
    }
    return links;
  }

  /**
   * A program started: `consider` the library files it needs (LD_LIBRARY_PATH, RUNPATH and the system
   * directories, as ld.so resolves them) at once, and, a moment later, those it mapped meanwhile (dlopen).
   */
  protected discoverLibraries<T>(finder: NewProgramFinder<T>, pid: number, filename: string, consider: (t: T) => void): void {
    const exe = exePath(pid) ?? filename;
    for (const t of finder.ofNewProgram(exe, processLibraryPath(pid))) consider(t);
    this.later(LATE_SCAN_MS, () => {
      for (const t of finder.lateMappings(pid, new Set(this.targets.keys()))) consider(t);
    });
  }

  /** Run `fn` after `ms`, unless the module has closed by then. */
  protected later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.obj) return;
      fn();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  /**
   * Filters (pid, uid, cgroup) change live in the kernel (live_filter_map) when the hooks were attached for
   * every process (no --pid at start) and no packet capture runs; anything else asks for a restart.
   */
  async reconfigure(config: Config): Promise<boolean> {
    if (!this.obj || this.pcap?.packets || Number(this.config.pid ?? 0) > 0 || !onlyFilterChanged(this.config, config)) return false;
    applyLiveFilter(this.obj, config);
    this.config = config;
    return true;
  }

  drain(): void {
    this.obj?.drain();
    this.pcap?.drain();
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.drain();
    if (this.obj) this.final = this.stats();
    this.obj?.close();
    this.obj = undefined;
    this.closeOutputs();
  }

  /** close(): after the object is closed, the module's own outputs (pcapng file, key log). */
  protected closeOutputs(): void {}

  stats(): ModuleStats {
    if (!this.obj && this.final) return this.final;
    return this.liveStats();
  }

  /** The object's drop counters (bpf/lib/common.bpf.h): [0] ring full, [1] read faults, [2] truncated, [3] map full. */
  protected drops(): { events: number; bytes: number }[] {
    return this.obj ? this.obj.sumPerCpuCounters('drops', 4) : [];
  }

  /**
   * lostEvents (ring full in the kernel, lost by the reader, plus `lostElsewhere`), lostBytes (ring full,
   * truncated payloads) and readFaults, from the drop counters.
   */
  protected losses(lostElsewhere = 0): { lostEvents: number; lostBytes: number; readFaults: number } {
    const drops = this.drops();
    return {
      lostEvents: (drops[0]?.events ?? 0) + this.lost + lostElsewhere,
      lostBytes: (drops[0]?.bytes ?? 0) + (drops[2]?.bytes ?? 0),
      readFaults: drops[1]?.events ?? 0,
    };
  }
}
