/**
 * Runs one capture module: checks privileges, prepares the kernel interfaces, drives the module
 * lifecycle (init → start → run → drain → close), feeds the pipeline, shows live counters, and applies
 * configuration changes while running (live where the module can, else by restarting the module).
 */
import { CaptureError } from '../errors.js';
import type { Config } from '../config/schema.js';
import { OUTPUT_KEYS } from '../config/options.js';
import type { Logger } from '../log.js';
import type { CaptureModule, ModuleContext, ModuleDescriptor, ModuleStats, ProcessHandler } from '../registry.js';
import { ensurePseudoFilesystems, featureReport } from '../bpf/features.js';
import { native } from '../bpf/native.js';
import { ExecWatcher } from '../discovery/exec-watcher.js';
import { CAP, effectiveCaps, hasCap } from '../discovery/proc.js';
import { usePerfBuffer, btfPath } from '../probes/common/load.js';
import type { Pipeline } from './pipeline.js';

export interface RuntimeOptions {
  descriptor: ModuleDescriptor;
  config: Config;
  log: Logger;
  pipeline: Pipeline;
  /** live counters line on stderr (only when stderr is a terminal) */
  progress?: boolean;
}

export interface RunSummary {
  startupMs: number;
  durationMs: number;
  module: Record<string, number>;
  pipeline: Record<string, number>;
  outputs: Record<string, Record<string, number | string | boolean>>;
}

export function checkPrivileges(): void {
  if (process.getuid?.() === 0) return;
  const caps = effectiveCaps();
  const bpf = hasCap(caps, CAP.BPF) || hasCap(caps, CAP.SYS_ADMIN);
  const perf = hasCap(caps, CAP.PERFMON) || hasCap(caps, CAP.SYS_ADMIN);
  if (!bpf || !perf) {
    throw new CaptureError('ECAP_PRIVILEGE', 'loading BPF programs needs root or CAP_BPF + CAP_PERFMON (and CAP_SYS_PTRACE to read other processes\' maps)', {
      hint: 'run as root (sudo), or: setcap cap_bpf,cap_perfmon,cap_sys_ptrace,cap_net_admin+eip $(command -v node)',
    });
  }
}

class Clock {
  private offset: bigint;
  private lastRefresh = Date.now();
  constructor() {
    this.offset = native().clockOffsetNs();
  }
  wall = (mono: number): bigint => {
    const now = Date.now();
    if (now - this.lastRefresh > 10_000) {
      this.offset = native().clockOffsetNs();
      this.lastRefresh = now;
    }
    return BigInt(Math.round(mono)) + this.offset;
  };
  now(): bigint {
    return this.wall(Number(native().monotonicNs()));
  }
}


function addStats(into: Record<string, number>, s: ModuleStats): void {
  for (const [k, v] of Object.entries(s)) if (typeof v === 'number') into[k] = (into[k] ?? 0) + v;
}

export class CaptureRuntime {
  private mod: CaptureModule | undefined;
  private watcher: ExecWatcher | undefined;
  private clock: Clock | undefined;
  private tick: NodeJS.Timeout | undefined;
  private progress: NodeJS.Timeout | undefined;
  private t0 = performance.now();
  private startupMs = 0;
  private earlier: Record<string, number> = {};
  private ac = new AbortController();
  config: Config;

  constructor(private readonly opts: RuntimeOptions) {
    this.config = opts.config;
  }

  get descriptor(): ModuleDescriptor {
    return this.opts.descriptor;
  }

  private context(config: Config): ModuleContext {
    const { log, pipeline, descriptor } = this.opts;
    return {
      config,
      log: log.child({ probe: descriptor.displayName }),
      emit: pipeline.push,
      wallClock: this.clock!.wall,
      onProcess: (h: ProcessHandler) => {
        if (!this.watcher) {
          const o: { usePerf: boolean; btfCustomPath?: string } = { usePerf: usePerfBuffer() };
          const btf = btfPath(config);
          if (btf) o.btfCustomPath = btf;
          this.watcher = new ExecWatcher(log, o);
        }
        return this.watcher.subscribe(h);
      },
      signal: this.ac.signal,
    };
  }

  private async startModule(config: Config): Promise<CaptureModule> {
    const factory = await this.opts.descriptor.load();
    const mod = factory(config);
    try {
      await mod.init(this.context(config));
      await mod.start();
    } catch (e) {
      await mod.close().catch(() => undefined);
      throw e;
    }
    return mod;
  }

  /** Check privileges, prepare the kernel, start the module; resolves when every hook is attached. */
  async start(): Promise<{ startupMs: number }> {
    const { log, pipeline } = this.opts;
    checkPrivileges();
    const n = native();
    if (!n.raiseMemlock()) log.debug('RLIMIT_MEMLOCK not raised (not permitted); relying on memcg accounting');
    for (const m of ensurePseudoFilesystems()) log.debug('mounted', { what: m });
    if (log.level === 'debug') log.debug('kernel features', { report: featureReport() }); // each probe loads a program
    this.clock = new Clock();
    this.tick = setInterval(() => pipeline.tick(this.clock!.now()), 250);
    this.mod = await this.startModule(this.config);
    // from the command (performance.now() counts from process start): Node boot, imports, loads, attaches
    this.startupMs = performance.now();
    log.info('capture started', {
      module: this.opts.descriptor.name,
      startup_ms: Math.round(this.startupMs),
      attach_ms: Math.round(this.startupMs - this.t0),
    });
    if (this.opts.progress && process.stderr.isTTY) {
      this.progress = setInterval(() => {
        const s = this.stats();
        process.stderr.write(`\r\x1b[K events ${s.events ?? 0}  bytes ${s.bytes ?? 0}  lost ${s.lostEvents ?? 0}`);
      }, 1000);
    }
    return { startupMs: this.startupMs };
  }

  /**
   * Apply a new configuration of the same module. Filters (pid, uid, cgroup) are changed in the kernel
   * without a reload where the module supports it; other module settings restart the module (hooks are
   * detached and attached again). Output settings are the caller's (see capture/outputs.ts).
   */
  async reconfigure(config: Config): Promise<'live' | 'restarted' | 'outputs-only'> {
    const old = this.config;
    const changed = Object.keys({ ...old, ...config }).filter((k) => JSON.stringify(old[k]) !== JSON.stringify(config[k]));
    const moduleKeys = changed.filter((k) => !OUTPUT_KEYS.has(k));
    this.config = config;
    if (moduleKeys.length === 0) return 'outputs-only';
    if (this.mod?.reconfigure && (await this.mod.reconfigure(config))) {
      this.opts.log.info('configuration applied without restart', { changed: moduleKeys.join(',') });
      return 'live';
    }
    this.opts.log.info('restarting the module for the new configuration', { changed: moduleKeys.join(',') });
    const prev = this.mod;
    this.mod = undefined;
    if (prev) {
      prev.drain();
      await prev.close().catch(() => undefined);
      addStats(this.earlier, prev.stats());
    }
    try {
      this.mod = await this.startModule(config);
    } catch (e) {
      // fall back to the previous configuration so the capture goes on
      this.config = old;
      this.mod = await this.startModule(old);
      throw e;
    }
    return 'restarted';
  }

  /** Module counters, summed over restarts. */
  stats(): Record<string, number> {
    const s: Record<string, number> = { ...this.earlier };
    if (this.mod) addStats(s, this.mod.stats());
    return s;
  }

  /** Deliver what the kernel still holds, detach everything, flush the pipeline. */
  async stop(): Promise<RunSummary> {
    const { pipeline, log } = this.opts;
    if (this.progress) {
      clearInterval(this.progress);
      process.stderr.write('\r\x1b[K');
    }
    if (this.tick) clearInterval(this.tick);
    this.ac.abort();
    try {
      this.mod?.drain();
      this.watcher?.drain();
    } catch {
      /* best effort */
    }
    await this.mod?.close().catch((e: unknown) => log.warn('module close failed', { error: (e as Error).message }));
    this.watcher?.close();
    this.watcher = undefined;
    await pipeline.finish();
    const outputs: RunSummary['outputs'] = {};
    for (const o of pipeline.outputList) outputs[o.name] = o.stats();
    return {
      startupMs: this.startupMs,
      durationMs: performance.now() - this.t0,
      module: this.stats(),
      pipeline: { ...pipeline.counters, ...pipeline.stageStats() },
      outputs,
    };
  }
}
