/**
 * A typed, leak-safe wrapper over one native BpfObject: open → configure (rodata, map sizes) → load →
 * attach → read → close, each step failing with a CaptureError that says what was being done.
 * Every link is tracked; close() detaches everything and is idempotent.
 */
import { AttachError, BpfLoadError, CaptureError, errnoName, hintForErrno } from '../errors.js';
import { bpfObjectPath } from '../util/paths.js';
import { cachedMinBtf, dropMinBtf, generateMinBtf } from './btf-cache.js';
import { features } from './features.js';
import { isNativeError, native, type BpfObject } from './native.js';
import { forEachSample } from './ringbuf.js';

export interface OpenOptions {
  /** rodata globals to set before load, already encoded */
  rodata?: Record<string, Buffer>;
  /** map name → max_entries */
  mapSizes?: Record<string, number>;
  /** program name → autoload */
  autoload?: Record<string, boolean>;
  /** map name → autocreate */
  autocreate?: Record<string, boolean>;
  /** external BTF for CO-RE on kernels without /sys/kernel/btf/vmlinux */
  btfCustomPath?: string;
}

export interface UprobeTarget {
  path: string;
  offset: number;
  pid?: number;
  retprobe?: boolean;
  cookie?: number;
  /** for messages: the symbol name */
  symbol?: string;
}

export type SampleHandler = (sample: Buffer) => void;

function describe(e: unknown): string {
  if (isNativeError(e)) return `${errnoName(e.errno)}: ${e.message.replace(/^.*?: /, '')}`;
  return (e as Error)?.message ?? String(e);
}

/**
 * uprobe_multi links where the kernel has them (native/src/umulti.c: detaching a capture's probes takes
 * milliseconds instead of seconds); ECAPTURE_NO_UPROBE_MULTI=1 keeps the classic perf-event uprobes.
 */
function useUprobeMulti(): boolean {
  return process.env.ECAPTURE_NO_UPROBE_MULTI !== '1' && features.uprobeMulti().ok;
}

export class LoadedObject {
  readonly stem: string;
  private obj: BpfObject | undefined;
  private links = new Set<number>();
  private drainTimer: NodeJS.Timeout | undefined;

  private constructor(stem: string, obj: BpfObject) {
    this.stem = stem;
    this.obj = obj;
  }

  /**
   * Open, configure and load `build/bpf/<stem>.bpf.o`. CO-RE relocations use, in order: the BTF file the
   * user gave (-b), the cached minimal BTF of this object for this kernel (see btf-cache.ts; generated in
   * the background when missing), or the kernel's own BTF.
   */
  static load(stem: string, opts: OpenOptions = {}): LoadedObject {
    const path = bpfObjectPath(stem);
    if (opts.btfCustomPath) return LoadedObject.loadWith(stem, path, opts, opts.btfCustomPath);
    const minBtf = cachedMinBtf(stem, path);
    if (minBtf !== undefined) {
      try {
        return LoadedObject.loadWith(stem, path, opts, minBtf);
      } catch {
        const o = LoadedObject.loadWith(stem, path, opts, undefined); // throws the real error, if any
        dropMinBtf(minBtf); // the kernel's BTF worked where the cached one did not: stale or damaged
        return o;
      }
    } else {
      setImmediate(() => void generateMinBtf(stem, path)); // after the capture is up: next start is quicker
    }
    return LoadedObject.loadWith(stem, path, opts, undefined);
  }

  private static loadWith(stem: string, path: string, opts: OpenOptions, btf: string | undefined): LoadedObject {
    const n = native();
    let obj: BpfObject;
    try {
      const o: { btfCustomPath?: string; uprobeMulti?: boolean } = {};
      if (btf) o.btfCustomPath = btf;
      if (useUprobeMulti()) o.uprobeMulti = true;
      obj = new n.BpfObject(path, o);
    } catch (cause) {
      throw new CaptureError('ECAP_BPF_OPEN', `open BPF object ${path}: ${describe(cause)}`, {
        cause,
        hint: 'run scripts/setup.sh to build the BPF objects',
      });
    }
    try {
      for (const [name, value] of Object.entries(opts.rodata ?? {})) obj.setGlobal(name, value);
      for (const [name, size] of Object.entries(opts.mapSizes ?? {})) obj.setMapMaxEntries(name, size);
      for (const [name, on] of Object.entries(opts.autoload ?? {})) obj.setAutoload(name, on);
      for (const [name, on] of Object.entries(opts.autocreate ?? {})) obj.setMapAutocreate(name, on);
    } catch (cause) {
      obj.close();
      throw new CaptureError('ECAP_BPF_OPEN', `configure BPF object ${stem}: ${describe(cause)}`, { cause });
    }
    try {
      obj.load();
    } catch (cause) {
      obj.close();
      const log = isNativeError(cause) ? (cause.log ?? '') : '';
      const prog = isNativeError(cause) ? cause.program : undefined;
      const errno = isNativeError(cause) ? cause.errno : undefined;
      const tail = lastMeaningfulLines(log, 2);
      const what = prog ? `program ${prog} of ${stem}` : `BPF object ${stem}`;
      throw new BpfLoadError(`load ${what}: ${describe(cause)}${tail ? ` (verifier: ${tail})` : ''}`, log, {
        cause,
        hint: hintForErrno(errno) ?? 'run with --debug to see the whole verifier log',
        details: { program: prog },
      });
    }
    return new LoadedObject(stem, obj);
  }

  private get o(): BpfObject {
    if (!this.obj) throw new CaptureError('ECAP_INTERNAL', `BPF object ${this.stem} is closed`);
    return this.obj;
  }

  attachUprobe(program: string, t: UprobeTarget): number {
    const what = `attach ${t.retprobe ? 'uretprobe' : 'uprobe'} ${t.symbol ?? `+0x${t.offset.toString(16)}`} in ${t.path}${
      t.pid && t.pid > 0 ? ` for pid ${t.pid}` : ''
    }`;
    try {
      const opts: Parameters<BpfObject["attachUprobe"]>[1] = {
        path: t.path,
        offset: t.offset,
        pid: t.pid && t.pid > 0 ? t.pid : -1,
        retprobe: !!t.retprobe,
      };
      if (t.cookie !== undefined) opts.cookie = t.cookie;
      const id = this.o.attachUprobe(program, opts);
      this.links.add(id);
      return id;
    } catch (cause) {
      throw new AttachError('ECAP_ATTACH', `${what}: ${describe(cause)}`, {
        cause,
        hint: hintForErrno(isNativeError(cause) ? cause.errno : undefined),
      });
    }
  }

  attachTracepoint(program: string, category: string, name: string): number {
    try {
      const id = this.o.attachTracepoint(program, category, name);
      this.links.add(id);
      return id;
    } catch (cause) {
      throw new AttachError('ECAP_ATTACH', `attach tracepoint ${category}:${name}: ${describe(cause)}`, {
        cause,
        hint: features.tracepoints().ok ? hintForErrno(isNativeError(cause) ? cause.errno : undefined) : 'tracefs must be mounted',
      });
    }
  }

  attachRawTracepoint(program: string, name: string): number {
    try {
      const id = this.o.attachRawTracepoint(program, name);
      this.links.add(id);
      return id;
    } catch (cause) {
      throw new AttachError('ECAP_ATTACH', `attach raw tracepoint ${name}: ${describe(cause)}`, {
        cause,
        hint: hintForErrno(isNativeError(cause) ? cause.errno : undefined),
      });
    }
  }

  attachKprobe(program: string, func: string, retprobe = false): number {
    if (!features.kprobes().ok) {
      const f = features.kprobes();
      throw new AttachError('ECAP_ATTACH', `attach kprobe ${func}: ${f.name} not supported (needs ${f.requires})`);
    }
    try {
      const id = this.o.attachKprobe(program, func, retprobe);
      this.links.add(id);
      return id;
    } catch (cause) {
      throw new AttachError('ECAP_ATTACH', `attach ${retprobe ? 'kretprobe' : 'kprobe'} ${func}: ${describe(cause)}`, { cause });
    }
  }

  /** `where`: TC filter handle and priority (default 1/1); distinct handles let several captures share a hook. */
  attachTc(program: string, ifindex: number, direction: 'ingress' | 'egress', ifname = `ifindex ${ifindex}`, where: { handle?: number; priority?: number } = {}): number {
    try {
      const id = this.o.attachTc(program, { ifindex, direction, ...where });
      this.links.add(id);
      return id;
    } catch (cause) {
      throw new AttachError('ECAP_ATTACH', `attach TC ${direction} program on ${ifname}: ${describe(cause)}`, {
        cause,
        hint: hintForErrno(isNativeError(cause) ? cause.errno : undefined) ?? 'needs CAP_NET_ADMIN',
      });
    }
  }

  detach(link: number): void {
    if (!this.links.delete(link)) return;
    try {
      this.o.detach(link);
    } catch {
      /* already gone */
    }
  }

  get linkCount(): number {
    return this.links.size;
  }

  /**
   * Read samples of the object's event buffer: the ring buffer `ringMap` where the kernel has one, else the
   * perf buffer `perfMap` with `pagesPerCpu` pages per CPU. `onLost` receives perf-buffer losses.
   */
  readEvents(ringMap: string, perfMap: string, usePerf: boolean, pagesPerCpu: number, onSample: SampleHandler, onLost: (n: number) => void, drainEveryMs = 10): void {
    const onBatch = (batch: Buffer, count: number): void => {
      forEachSample(batch, count, onSample);
    };
    try {
      if (usePerf) this.o.openPerfBuffer(perfMap, pagesPerCpu, onBatch, (_cpu, n) => onLost(n));
      else {
        this.o.openRingBuffer(ringMap, onBatch);
        // with adaptive wakeups (rodata wakeup_bytes) the kernel wakes us only for big batches: poll too
        if (drainEveryMs > 0) {
          this.drainTimer = setInterval(() => this.drain(), drainEveryMs);
          this.drainTimer.unref();
        }
      }
    } catch (cause) {
      throw new CaptureError('ECAP_BPF_MAP', `read events of ${this.stem} (${usePerf ? perfMap : ringMap}): ${describe(cause)}`, { cause });
    }
  }

  /** Deliver everything pending now (before close, so nothing is lost). */
  drain(): number {
    if (!this.obj) return 0;
    try {
      return this.obj.drainBuffers();
    } catch {
      return 0;
    }
  }

  lookup(map: string, key: Buffer): Buffer | null {
    return this.o.mapLookup(map, key);
  }

  update(map: string, key: Buffer, value: Buffer): void {
    try {
      this.o.mapUpdate(map, key, value);
    } catch (cause) {
      throw new CaptureError('ECAP_BPF_MAP', `update map ${map} of ${this.stem}: ${describe(cause)}`, { cause });
    }
  }

  /** Sum a per-CPU array of {u64 events, u64 bytes} counters (the `drops` map) into one entry per index. */
  sumPerCpuCounters(map: string, entries: number): { events: number; bytes: number }[] {
    const out: { events: number; bytes: number }[] = [];
    const ncpu = native().numPossibleCpus();
    for (let i = 0; i < entries; i++) {
      const k = Buffer.alloc(4);
      k.writeUInt32LE(i);
      const v = this.obj ? this.obj.mapLookup(map, k) : null;
      let events = 0;
      let bytes = 0;
      if (v) {
        const stride = v.length / ncpu;
        for (let c = 0; c < ncpu; c++) {
          events += Number(v.readBigUInt64LE(c * stride));
          bytes += Number(v.readBigUInt64LE(c * stride + 8));
        }
      }
      out.push({ events, bytes });
    }
    return out;
  }

  close(): void {
    if (this.drainTimer) clearInterval(this.drainTimer);
    this.drainTimer = undefined;
    const o = this.obj;
    this.obj = undefined;
    this.links.clear();
    if (o) o.close();
  }
}

function lastMeaningfulLines(log: string, n: number): string {
  const lines = log
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('--') && !/^processed \d+ insns/.test(l) && !l.startsWith('libbpf:'));
  return lines.slice(-n).join(' | ');
}

/** Little-endian encoders for rodata values. */
export const rodata = {
  u32(v: number): Buffer {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    return b;
  },
  u64(v: number | bigint): Buffer {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    return b;
  },
};
