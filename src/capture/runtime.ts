/**
 * Runs one capture module: checks privileges, prepares the kernel interfaces, drives the module
 * lifecycle (init → start → run → drain → close), feeds the pipeline, shows live counters and a summary,
 * and on SIGINT/SIGTERM (or abort) detaches everything and flushes every output.
 */
import { CaptureError } from '../errors.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { CaptureModule, ModuleContext, ModuleDescriptor, ProcessHandler } from '../registry.js';
import { ensurePseudoFilesystems, featureReport } from '../bpf/features.js';
import { native } from '../bpf/native.js';
import { ExecWatcher } from '../discovery/exec-watcher.js';
import { CAP, effectiveCaps, hasCap } from '../discovery/proc.js';
import { usePerfBuffer, btfPath } from '../probes/common/load.js';
import type { Pipeline } from './pipeline.js';

export interface RunOptions {
  descriptor: ModuleDescriptor;
  config: Config;
  log: Logger;
  pipeline: Pipeline;
  signal: AbortSignal;
  /** live counters line on stderr (only when stderr is a terminal) */
  progress?: boolean;
  /** called once all hooks are attached */
  onReady?: (info: { startupMs: number }) => void;
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
}

export async function runCapture(opts: RunOptions): Promise<RunSummary> {
  const { descriptor, config, log, pipeline, signal } = opts;
  const t0 = performance.now();
  checkPrivileges();
  const n = native();
  if (!n.raiseMemlock()) log.debug('RLIMIT_MEMLOCK not raised (not permitted); relying on memcg accounting');
  for (const m of ensurePseudoFilesystems()) log.debug('mounted', { what: m });
  log.debug('kernel features', { report: featureReport() });

  const clock = new Clock();
  let watcher: ExecWatcher | undefined;
  const watcherOpts: { usePerf: boolean; btfCustomPath?: string } = { usePerf: usePerfBuffer() };
  const btf = btfPath(config);
  if (btf) watcherOpts.btfCustomPath = btf;
  const ctx: ModuleContext = {
    config,
    log: log.child({ probe: descriptor.displayName }),
    emit: pipeline.push,
    wallClock: clock.wall,
    onProcess: (h: ProcessHandler) => {
      watcher ??= new ExecWatcher(log, watcherOpts);
      return watcher.subscribe(h);
    },
    signal,
  };

  const factory = await descriptor.load();
  const mod: CaptureModule = factory(config);
  let startupMs = 0;
  const tick = setInterval(() => pipeline.tick(clock.wall(Number(n.monotonicNs()))), 250);
  let progress: NodeJS.Timeout | undefined;
  try {
    await mod.init(ctx);
    await mod.start();
    startupMs = performance.now() - t0;
    log.info('capture started', { module: descriptor.name, startup_ms: Math.round(startupMs) });
    opts.onReady?.({ startupMs });
    if (opts.progress && process.stderr.isTTY) {
      progress = setInterval(() => {
        const s = mod.stats();
        process.stderr.write(`\r\x1b[K events ${s.events ?? 0}  bytes ${s.bytes ?? 0}  lost ${s.lostEvents ?? 0}`);
      }, 1000);
    }
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    if (progress) {
      clearInterval(progress);
      process.stderr.write('\r\x1b[K');
    }
    clearInterval(tick);
    // deliver what the kernel still holds, then detach everything, then flush outputs
    try {
      mod.drain();
      watcher?.drain();
    } catch {
      /* best effort */
    }
    await mod.close().catch((e: unknown) => log.warn('module close failed', { error: (e as Error).message }));
    watcher?.close();
    await pipeline.finish();
  }
  const outputs: RunSummary['outputs'] = {};
  for (const o of pipeline.outputList) outputs[o.name] = o.stats();
  return {
    startupMs,
    durationMs: performance.now() - t0,
    module: mod.stats(),
    pipeline: { ...pipeline.counters, ...pipeline.stageStats() },
    outputs,
  };
}
