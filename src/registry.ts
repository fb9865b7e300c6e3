/**
 * THE module registry: one list from which the CLI subcommands, the HTTP config API routes and the event
 * stream's module names are all derived. A module's implementation is imported lazily, so `--help` and
 * the API's validation never load libbpf.
 */
import type { Config } from './config/schema.js';
import type { OptionSpec } from './config/options.js';
import type { CaptureRecord, ModuleName } from './model/records.js';
import type { Logger } from './log.js';

export interface ModuleStats {
  [counter: string]: number;
}

/** What the runtime gives a module. */
export interface ModuleContext {
  readonly config: Config;
  readonly log: Logger;
  /** hand a record to the pipeline (connection tracking, encoders, sinks) */
  emit(rec: CaptureRecord): void;
  /** turn a bpf_ktime_get_ns() value into wall-clock ns */
  wallClock(monoNs: number): bigint;
  /** subscribe to process exec/exit (discovery); returns an unsubscribe function */
  onProcess(handler: ProcessHandler): () => void;
  /** a module tells the runtime something worth a counter line */
  readonly signal: AbortSignal;
}

export interface ProcessHandler {
  exec?(pid: number, filename: string, ppid: number): void;
  exit?(pid: number): void;
}

/** Lifecycle: init → start → (running) → close. close() must be safe after a failed init or start. */
export interface CaptureModule {
  readonly name: ModuleName;
  /** validate config further, find targets, open and load BPF objects */
  init(ctx: ModuleContext): Promise<void>;
  /** attach hooks and start reading events */
  start(): Promise<void>;
  /** apply a changed live setting (pid/uid filter, ...) without restarting; false if a restart is needed */
  reconfigure?(config: Config): Promise<boolean>;
  /** deliver everything the kernel still holds (before close) */
  drain(): void;
  /** detach everything and free resources; idempotent */
  close(): Promise<void>;
  stats(): ModuleStats;
}

export interface ModuleDescriptor {
  readonly name: ModuleName;
  readonly aliases: readonly string[];
  /** one line, for the command list */
  readonly summary: string;
  readonly description: string;
  readonly examples: readonly string[];
  /** module-specific options (the global ones are added by the CLI) */
  readonly options: readonly OptionSpec[];
  /** positional arguments, joined with spaces (the pcap filter) */
  readonly positional?: { name: string; key: string; description: string };
  /** eCapture's display name in logs (probe=OpenSSL) */
  readonly displayName: string;
  /** extra HTTP API routes that map to this module (eCapture: /openssl, /boringssl → tls) */
  readonly routes: readonly string[];
  load(): Promise<(config: Config) => CaptureModule>;
}

const modules: ModuleDescriptor[] = [];

export function registerModule(d: ModuleDescriptor): void {
  if (modules.some((m) => m.name === d.name)) throw new Error(`module ${d.name} registered twice`);
  modules.push(d);
}

export function allModules(): readonly ModuleDescriptor[] {
  return modules;
}

/** Find a module by name, alias or API route (case-insensitive). */
export function findModule(nameOrRoute: string): ModuleDescriptor | undefined {
  const n = nameOrRoute.replace(/^\//, '').toLowerCase();
  return modules.find((m) => m.name === n || m.aliases.includes(n) || m.routes.includes(n));
}
