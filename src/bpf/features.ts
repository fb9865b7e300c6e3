/**
 * Named, cached kernel feature probes (cilium/ebpf's internal/feature idea). Each says what is missing
 * and which kernel has it, so the user sees "BPF ring buffer: not supported (needs Linux >= 5.8)" and not
 * EINVAL. Probes never throw.
 */
import { existsSync, readFileSync } from 'node:fs';
import { native } from './native.js';

export interface Feature {
  name: string;
  ok: boolean;
  /** what the kernel needs, e.g. "Linux >= 5.8" */
  requires: string;
  detail?: string;
}

const cache = new Map<string, Feature>();

function probe(name: string, requires: string, fn: () => boolean | { ok: boolean; detail?: string }): Feature {
  const hit = cache.get(name);
  if (hit) return hit;
  let f: Feature;
  try {
    const r = fn();
    f = typeof r === 'boolean' ? { name, ok: r, requires } : { name, requires, ...r };
  } catch (e) {
    f = { name, ok: false, requires, detail: (e as Error).message };
  }
  cache.set(name, f);
  return f;
}

export const features = {
  btf: (): Feature =>
    probe('kernel BTF (/sys/kernel/btf/vmlinux)', 'Linux >= 5.4 built with CONFIG_DEBUG_INFO_BTF=y', () =>
      existsSync('/sys/kernel/btf/vmlinux'),
    ),
  ringbuf: (): Feature => probe('BPF ring buffer', 'Linux >= 5.8', () => native().probeMapType('ringbuf')),
  perfbuf: (): Feature => probe('BPF perf event array', 'Linux >= 4.4', () => native().probeMapType('perf_event_array')),
  bpfLoop: (): Feature => probe('bpf_loop helper', 'Linux >= 5.17', () => native().probeHelper('kprobe', 'bpf_loop')),
  attachCookie: (): Feature =>
    probe('BPF attach cookies', 'Linux >= 5.15', () => native().probeHelper('kprobe', 'bpf_get_attach_cookie')),
  uprobes: (): Feature =>
    probe('uprobes', 'Linux built with CONFIG_UPROBE_EVENTS=y', () => ({
      ok: existsSync('/sys/bus/event_source/devices/uprobe') || tracefsHas('uprobe_events'),
    })),
  uprobeMulti: (): Feature => probe('uprobe_multi links', 'Linux >= 6.6', () => native().probeUprobeMulti()),
  kprobes: (): Feature =>
    probe('kprobes', 'Linux built with CONFIG_KPROBE_EVENTS=y', () => ({
      ok: existsSync('/sys/bus/event_source/devices/kprobe') || tracefsHas('kprobe_events'),
    })),
  tracepoints: (): Feature => probe('tracepoints', 'Linux >= 4.7', () => native().probeProgType('tracepoint')),
  tc: (): Feature => probe('TC classifier programs', 'Linux >= 4.1', () => native().probeProgType('sched_cls')),
};

let tracefsRoot: string | undefined | null = null;

/** The mounted tracefs directory, if any. */
export function tracefsPath(): string | undefined {
  if (tracefsRoot !== null) return tracefsRoot;
  tracefsRoot = undefined;
  for (const p of ['/sys/kernel/tracing', '/sys/kernel/debug/tracing']) {
    if (existsSync(`${p}/events`)) {
      tracefsRoot = p;
      break;
    }
  }
  return tracefsRoot;
}

function tracefsHas(file: string): boolean {
  const t = tracefsPath();
  return t !== undefined && existsSync(`${t}/${file}`);
}

/**
 * Make sure tracefs (for tracepoint ids) and bpffs are mounted; mounts them where missing.
 * Returns the names of what it mounted (for the debug log).
 */
export function ensurePseudoFilesystems(): string[] {
  const mounted: string[] = [];
  const mounts = safeRead('/proc/self/mounts');
  if (!/ \/sys\/kernel\/tracing tracefs /.test(mounts) && !existsSync('/sys/kernel/tracing/events')) {
    try {
      native().mountFs('tracefs', '/sys/kernel/tracing');
      mounted.push('tracefs at /sys/kernel/tracing');
      tracefsRoot = null;
    } catch {
      /* reported by the tracepoint attach that needs it */
    }
  }
  if (!/ \/sys\/fs\/bpf bpf /.test(mounts)) {
    try {
      native().mountFs('bpf', '/sys/fs/bpf');
      mounted.push('bpffs at /sys/fs/bpf');
    } catch {
      /* not needed for what we do today */
    }
  }
  return mounted;
}

function safeRead(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

/** A one-line report of every probe, for `--debug` and for error messages. */
export function featureReport(): string {
  return Object.values(features)
    .map((f) => {
      const r = f();
      return `${r.name}: ${r.ok ? 'yes' : `no (needs ${r.requires})`}`;
    })
    .join('; ');
}

/** For tests. */
export function resetFeatureCache(): void {
  cache.clear();
  tracefsRoot = null;
}
