/**
 * The capture-module driver shared by the four audit modules (bash, zsh, mysqld, postgres): each one plans
 * what to hook in one binary (AuditPlan: object, rodata, uprobes, tracepoints) and turns the object's
 * samples into records (AuditHandler); this class loads, attaches, reads, drains and closes.
 */
import type { Config } from '../../config/schema.js';
import type { ModuleName } from '../../model/records.js';
import type { CaptureModule, ModuleContext, ModuleStats } from '../../registry.js';
import { LoadedObject, type UprobeTarget } from '../../bpf/object.js';
import { applyLiveFilter, baseLoadOptions, eventReadOptions } from '../common/load.js';

export interface PlannedUprobe extends UprobeTarget {
  program: string;
}

export interface AuditPlan {
  /** object stem under build/bpf, e.g. 'shell/bash' */
  object: string;
  rodata: Record<string, Buffer>;
  uprobes: PlannedUprobe[];
  /** [program, category, name] */
  tracepoints: [string, string, string][];
  /** hooked files (for the summary line) */
  files: string[];
  /** logged once the hooks are attached */
  info: Record<string, string | number | boolean>;
  /** things that work less well than they could (a missing optional symbol); logged as warnings */
  warnings: string[];
}

export interface AuditHandler {
  /** one ring/perf buffer sample */
  handle(sample: Buffer): void;
  /** emit what is still pending (at close) */
  flush(): void;
  /** apply changed userspace-only settings (e.g. -e); false when one of `keys` is not such a setting */
  reconfigure?(config: Config, keys: string[]): boolean;
  readonly counters: { events: number; bytes: number; decodeErrors: number; records: number; [k: string]: number };
}

export type Planner = (config: Config, ctx: ModuleContext) => AuditPlan;
export type HandlerFactory = (ctx: ModuleContext, config: Config, plan: AuditPlan) => AuditHandler;

export class AuditModule implements CaptureModule {
  private ctx!: ModuleContext;
  private obj: LoadedObject | undefined;
  private plan: AuditPlan | undefined;
  private handler: AuditHandler | undefined;
  private lost = 0;
  private final: ModuleStats | undefined;

  constructor(
    readonly name: ModuleName,
    private config: Config,
    private readonly planner: Planner,
    private readonly makeHandler: HandlerFactory,
  ) {}

  async init(ctx: ModuleContext): Promise<void> {
    this.ctx = ctx;
    const plan = this.planner(this.config, ctx);
    this.plan = plan;
    this.handler = this.makeHandler(ctx, this.config, plan);
    const base = baseLoadOptions(this.config);
    this.obj = LoadedObject.load(plan.object, { ...base, rodata: { ...base.rodata, ...plan.rodata } });
  }

  async start(): Promise<void> {
    const obj = this.obj!;
    const plan = this.plan!;
    const handler = this.handler!;
    const pid = Number(this.config.pid ?? 0);
    for (const [prog, cat, name] of plan.tracepoints) obj.attachTracepoint(prog, cat, name);
    for (const u of plan.uprobes) {
      const { program, ...target } = u;
      obj.attachUprobe(program, pid > 0 ? { ...target, pid } : target);
    }
    const r = eventReadOptions(this.config);
    obj.readEvents('events_rb', 'events_pb', r.usePerf, r.pagesPerCpu, (s) => handler.handle(s), (n) => {
      this.lost += n;
    }, r.drainEveryMs);
    for (const w of plan.warnings) this.ctx.log.warn(w);
    this.ctx.log.info('hooked', { ...plan.info, probes: obj.linkCount });
  }

  /**
   * pid/uid filters change live in the kernel (live_filter_map) when the hooks were attached for every
   * process (no --pid at start: a --pid also chooses the binary and restricts the uprobes); settings the
   * handler owns (-e) change live too. Anything else asks the runtime for a restart.
   */
  async reconfigure(config: Config): Promise<boolean> {
    const OUTPUT = new Set(['eventaddr', 'format', 'hex', 'tsize', 'eventroratesize', 'eventroratetime', 'logaddr', 'debug', 'listen', 'ecaptureq', 'apiToken', 'idleTimeout']);
    const FILTER = new Set(['pid', 'uid']);
    const changed = Object.keys({ ...this.config, ...config }).filter(
      (k) => !OUTPUT.has(k) && JSON.stringify(this.config[k]) !== JSON.stringify(config[k]),
    );
    if (!this.obj || Number(this.config.pid ?? 0) > 0) return false;
    const filters = changed.filter((k) => FILTER.has(k));
    const others = changed.filter((k) => !FILTER.has(k));
    if (others.length && !this.handler?.reconfigure?.(config, others)) return false;
    if (filters.length) applyLiveFilter(this.obj, config);
    this.config = config;
    return true;
  }

  drain(): void {
    this.obj?.drain();
  }

  async close(): Promise<void> {
    if (this.obj) {
      this.obj.drain();
      this.handler?.flush();
      this.final = this.stats();
    }
    this.obj?.close();
    this.obj = undefined;
  }

  stats(): ModuleStats {
    if (!this.obj && this.final) return this.final;
    const c = this.handler?.counters;
    const drops = this.obj ? this.obj.sumPerCpuCounters('drops', 4) : [];
    const out: ModuleStats = {
      targets: this.plan?.files.length ?? 0,
      probes: this.obj?.linkCount ?? 0,
      events: c?.events ?? 0,
      bytes: c?.bytes ?? 0,
      lostEvents: (drops[0]?.events ?? 0) + this.lost,
      lostBytes: (drops[0]?.bytes ?? 0) + (drops[2]?.bytes ?? 0),
      readFaults: drops[1]?.events ?? 0,
      truncatedTexts: drops[2]?.events ?? 0,
      mapFull: drops[3]?.events ?? 0,
      decodeErrors: c?.decodeErrors ?? 0,
    };
    if (c) for (const [k, v] of Object.entries(c)) if (!(k in out)) out[k] = v;
    return out;
  }
}
