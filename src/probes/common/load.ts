/**
 * Load options every capture object shares: the process filter (rodata), the event buffer kind and size,
 * bpf_loop availability, and external BTF.
 */
import { existsSync, statSync } from 'node:fs';
import { CaptureError } from '../../errors.js';
import { LIVE_FILTER_KEYS, OUTPUT_KEYS } from '../../config/options.js';
import { LiveFilterLayout } from '../../gen/events.js';
import type { Config } from '../../config/schema.js';
import { features } from '../../bpf/features.js';
import { native } from '../../bpf/native.js';
import { rodata, type LoadedObject, type OpenOptions } from '../../bpf/object.js';

/** Syscall tracepoints that bind TLS connection objects to their sockets (bpf/lib/tls_data.bpf.h). */
export const IO_TRACEPOINTS: readonly [string, string][] = [
  'sys_enter_write',
  'sys_enter_writev',
  'sys_enter_sendto',
  'sys_enter_sendmsg',
  'sys_enter_read',
  'sys_enter_readv',
  'sys_enter_recvfrom',
  'sys_enter_recvmsg',
].map((n) => ['syscalls', n] as [string, string]);

/** Raw tracepoints that do the same from the socket layer (Linux >= 6.3), preferred: see attachIoHooks(). */
export const SOCK_IO_RAW_TRACEPOINTS: readonly string[] = ['sock_send_length', 'sock_recv_length'];

/** Every program of the fd-binding hooks, e.g. to leave them unloaded where they are not used. */
export const IO_HOOK_PROGRAMS: readonly string[] = [
  ...IO_TRACEPOINTS.map(([, n]) => `tp_${n}`),
  ...SOCK_IO_RAW_TRACEPOINTS.map((n) => `rtp_${n}`),
];

/**
 * Attach the fd-binding hooks of bpf/lib/tls_data.bpf.h: the socket-layer raw tracepoints where the kernel has
 * them, else the syscall tracepoints. The syscall tracepoints are the fallback because enabling any of them
 * puts every syscall of every process on the kernel's slow path (under nginx+wrk the difference was ~1 point
 * of throughput, within the noise; the cost falls on every process of the machine). Returns which were attached.
 */
export function attachIoHooks(obj: LoadedObject): 'socket' | 'syscalls' {
  const links: number[] = [];
  if (process.env.ECAPTURE_IO_HOOKS !== 'syscalls') {
    try {
      for (const n of SOCK_IO_RAW_TRACEPOINTS) links.push(obj.attachRawTracepoint(`rtp_${n}`, n));
      return 'socket';
    } catch {
      for (const l of links) obj.detach(l); // no such tracepoint (Linux < 6.3): the syscall tracepoints
    }
  }
  for (const [cat, name] of IO_TRACEPOINTS) obj.attachTracepoint(`tp_${name}`, cat, name);
  return 'syscalls';
}

export const FILTER_PID = 1;
export const FILTER_UID = 2;
export const FILTER_CGROUP = 4;

/** Ring buffers where the kernel has them; ECAPTURE_FORCE_PERFBUF=1 forces the perf-buffer path (tests). */
export function usePerfBuffer(): boolean {
  return process.env.ECAPTURE_FORCE_PERFBUF === '1' || !features.ringbuf().ok;
}

/** Ring buffer bytes for --mapsize pages per CPU: pages × page size × CPUs, rounded up to a power of two. */
export function ringBytes(config: Config): number {
  const pages = Number(config.mapsize ?? 1024);
  const total = pages * 4096 * native().numPossibleCpus();
  let size = 4096;
  while (size < total && size < 1 << 30) size *= 2;
  return size;
}

/** The external BTF to use, per -b/--btf and --btf-file; undefined = the kernel's own. */
export function btfPath(config: Config): string | undefined {
  const mode = Number(config.btf ?? 0);
  const file = config.btfFile ? String(config.btfFile) : undefined;
  if (file && !existsSync(file)) {
    throw new CaptureError('ECAP_BTF', `--btf-file ${file}: no such file`, { hint: 'download the BTF for this kernel from btfhub' });
  }
  if (mode === 2 && !file) {
    throw new CaptureError('ECAP_BTF', '-b 2 (non-CO-RE) is not shipped: every object is CO-RE', {
      hint: 'use -b 0 (kernel BTF) or give an external BTF with --btf-file',
    });
  }
  if (!file && !features.btf().ok) {
    throw new CaptureError('ECAP_BTF', 'this kernel has no BTF (/sys/kernel/btf/vmlinux is missing)', {
      hint: 'give an external BTF for this kernel with --btf-file (e.g. from btfhub), or use a kernel built with CONFIG_DEBUG_INFO_BTF=y',
    });
  }
  return file;
}

export function filterRodata(config: Config, cgroupId?: bigint): Record<string, Buffer> {
  let flags = 0;
  const pid = Number(config.pid ?? 0);
  if (pid > 0) flags |= FILTER_PID;
  const uidSet = config.uid !== undefined && config.uid !== '';
  if (uidSet) flags |= FILTER_UID;
  if (cgroupId !== undefined) flags |= FILTER_CGROUP;
  return {
    filter_flags: rodata.u32(flags),
    target_pid: rodata.u32(pid),
    target_uid: rodata.u32(uidSet ? Number(config.uid) : 0),
    target_cgroup_id: rodata.u64(cgroupId ?? 0n),
  };
}

/** The cgroup v2 id of --cgroup_path, or undefined when not given. */
export function cgroupFilterId(config: Config): bigint | undefined {
  const path = config.cgroupPath ? String(config.cgroupPath) : '';
  if (!path) return undefined;
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new CaptureError('ECAP_CONFIG', `--cgroup_path ${path}: no such directory`, { hint: 'give a cgroup v2 directory, e.g. /sys/fs/cgroup/system.slice/nginx.service' });
  }
  if (!st.isDirectory() || !existsSync(`${path}/cgroup.procs`)) {
    throw new CaptureError('ECAP_CONFIG', `--cgroup_path ${path}: not a cgroup directory`, { hint: 'give a cgroup v2 directory (on hybrid systems under /sys/fs/cgroup/unified)' });
  }
  try {
    return native().cgroupId(path);
  } catch (cause) {
    throw new CaptureError('ECAP_CONFIG', `--cgroup_path ${path}: cannot read its cgroup id: ${(cause as Error).message}`, { cause });
  }
}

/** Open options for a capture object built on bpf/lib/tls_data.bpf.h. */
export function baseLoadOptions(config: Config, extra: { cgroupId?: bigint } = {}): OpenOptions {
  const perf = usePerfBuffer();
  const o: OpenOptions = {
    rodata: {
      ...filterRodata(config, extra.cgroupId ?? cgroupFilterId(config)),
      use_perfbuf: rodata.u32(perf ? 1 : 0),
      have_bpf_loop: rodata.u32(features.bpfLoop().ok ? 1 : 0),
      wakeup_bytes: rodata.u64(perf ? 0 : wakeupBytes(config)),
    },
    mapSizes: perf ? {} : { events_rb: ringBytes(config) },
  };
  if (perf) o.autocreate = { events_rb: false };
  const btf = btfPath(config);
  if (btf) o.btfCustomPath = btf;
  return o;
}

/** Adaptive wakeup threshold: an eighth of the ring, at most 1 MiB (see common.bpf.h). */
export function wakeupBytes(config: Config): number {
  return Math.min(ringBytes(config) / 8, 1 << 20);
}

/** How often the reader drains the ring without a wakeup (ms): bounds the delay of a quiet stream. */
export const DRAIN_EVERY_MS = 10;

export function eventReadOptions(config: Config): { usePerf: boolean; pagesPerCpu: number; drainEveryMs: number } {
  let pages = Number(config.mapsize ?? 1024);
  // perf buffers need a power-of-two page count
  let p = 1;
  while (p < pages) p *= 2;
  pages = p;
  return { usePerf: usePerfBuffer(), pagesPerCpu: pages, drainEveryMs: DRAIN_EVERY_MS };
}

/**
 * Change the process filter of a running object (bpf/lib/common.bpf.h live_filter_map): takes effect for
 * the next event, no reload, no event of other connections lost.
 */
export function applyLiveFilter(obj: LoadedObject, config: Config): void {
  const cg = cgroupFilterId(config);
  let flags = 0;
  const pid = Number(config.pid ?? 0);
  if (pid > 0) flags |= FILTER_PID;
  const uidSet = config.uid !== undefined && config.uid !== '';
  if (uidSet) flags |= FILTER_UID;
  if (cg !== undefined) flags |= FILTER_CGROUP;
  const f = Object.fromEntries(LiveFilterLayout.fields.map((x) => [x.name, x.offset]));
  const v = Buffer.alloc(LiveFilterLayout.SIZE);
  v.writeUInt32LE(1, f.active);
  v.writeUInt32LE(flags, f.flags);
  v.writeUInt32LE(pid, f.pid);
  v.writeUInt32LE(uidSet ? Number(config.uid) : 0, f.uid);
  v.writeBigUInt64LE(cg ?? 0n, f.cgroup_id);
  obj.update('live_filter_map', Buffer.alloc(4), v);
}

/** True when, apart from output settings, only the process filter differs between two configs. */
export function onlyFilterChanged(old: Config, next: Config): boolean {
  return Object.keys({ ...old, ...next })
    .filter((k) => !OUTPUT_KEYS.has(k) && JSON.stringify(old[k]) !== JSON.stringify(next[k]))
    .every((k) => LIVE_FILTER_KEYS.has(k));
}
