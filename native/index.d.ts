/**
 * The native addon: a thin N-API binding over the system libbpf (and libpcap for filter compilation).
 * No protocol logic and no policy lives here. Hand-written and reviewed: keep it small.
 *
 * Every function either returns a value or throws a NativeError whose message reads
 * "<what was being done>: <strerror>" and which carries `errno` (positive) and `op`.
 */

export interface NativeError extends Error {
  /** positive errno */
  errno: number;
  /** what was being done, e.g. "attach uprobe SSL_write" */
  op: string;
  /** for load failures: the program that failed and the tail of libbpf's log (verifier output) */
  program?: string;
  log?: string;
}

export interface MapInfo {
  name: string;
  /** enum bpf_map_type value */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

export interface ProgramInfo {
  name: string;
  /** ELF section name, e.g. "uprobe", "tracepoint/syscalls/sys_enter_write", "tc" */
  section: string;
  autoload: boolean;
}

export interface OpenOptions {
  /** external BTF file for CO-RE relocations on kernels without /sys/kernel/btf/vmlinux */
  btfCustomPath?: string;
  /** object name override */
  objectName?: string;
  /**
   * Load the object's uprobe/uretprobe programs for uprobe_multi links (Linux >= 6.6; see probeUprobeMulti):
   * attachUprobe then makes such a link, which detaches in milliseconds instead of ~80 ms per probe.
   */
  uprobeMulti?: boolean;
}

export interface UprobeOptions {
  /** path of the ELF file (library or executable) */
  path: string;
  /** file offset of the probed instruction */
  offset: number;
  /** only fire for this process (default: all, -1) */
  pid?: number;
  retprobe?: boolean;
  /** attach cookie, read by bpf_get_attach_cookie() (Linux >= 5.15; ignored where unsupported) */
  cookie?: number;
}

export interface TcOptions {
  ifindex: number;
  direction: 'ingress' | 'egress';
  /** default 1 */
  priority?: number;
  /** default 1 */
  handle?: number;
}

/**
 * Called with a batch of ring/perf buffer samples. Layout of `batch`: repeated records of
 * [u32 little-endian length][length bytes of sample][zero padding to a multiple of 8].
 * `count` is the number of samples in the batch. The Buffer is owned by JS afterwards.
 * Perf buffer samples have the length perf reports for raw samples, which includes perf's own padding
 * (up to 7 bytes more than the program emitted); ring buffer samples have their exact length.
 * An exception thrown by the callback when it runs from the event loop is reported with
 * process.emitWarning(err) and consumption goes on; during drainBuffers() the first one is rethrown
 * after everything pending has been drained.
 */
export type BatchCallback = (batch: Buffer, count: number) => void;

/**
 * Methods of a closed object throw a NativeError with errno EBADF, except close(), linkCount() and
 * drainBuffers() (which return 0). While ring/perf buffers are open the object is not garbage-collected
 * and its uv_poll handles keep the event loop alive, until close(). If JS never calls close(), the
 * object is closed when it is garbage-collected or its environment (main thread or worker) is torn
 * down, and TC filters/qdiscs of ours still attached at exit() are removed by an atexit handler.
 */
export class BpfObject {
  /** Open (not load) a BPF ELF object. */
  constructor(path: string, opts?: OpenOptions);
  readonly name: string;
  programs(): ProgramInfo[];
  maps(): MapInfo[];

  /**
   * Overwrite a global variable in a data section before load. `section` defaults to ".rodata".
   * The variable is found by name in the object's BTF; `value` must be exactly the variable's size.
   * Throws EBUSY after load().
   */
  setGlobal(name: string, value: Buffer, section?: string): void;
  /** Read a global variable's current value (the initial value before load; after load, the map's memory). */
  getGlobal(name: string, section?: string): Buffer;
  /** Set max_entries of a map before load (for ring buffers: the size in bytes, a power of two × page size). */
  setMapMaxEntries(map: string, maxEntries: number): void;
  /** Enable/disable loading of a program (before load). */
  setAutoload(program: string, autoload: boolean): void;
  /** Enable/disable creation of a map (before load). */
  setMapAutocreate(map: string, autocreate: boolean): void;

  /** Load all programs and create maps. Throws a NativeError with `program` and `log` on verifier rejection. */
  load(): void;

  /** The following return a link id usable with detach(). */
  attachUprobe(program: string, opts: UprobeOptions): number;
  attachKprobe(program: string, func: string, retprobe?: boolean): number;
  attachTracepoint(program: string, category: string, name: string): number;
  attachRawTracepoint(program: string, name: string): number;
  /**
   * Attach a SCHED_CLS program with direct-action on a clsact hook. Creates the clsact qdisc when absent and
   * remembers that it did, so close() removes a qdisc it created (and never one that was there before).
   */
  attachTc(program: string, opts: TcOptions): number;
  detach(link: number): void;
  /** Number of links currently attached. */
  linkCount(): number;

  /** For per-CPU maps the value is numPossibleCpus() × roundup(valueSize, 8) bytes. Returns null if absent. */
  mapLookup(map: string, key: Buffer): Buffer | null;
  mapUpdate(map: string, key: Buffer, value: Buffer, flags?: number): void;
  /** Returns false if the key was absent. */
  mapDelete(map: string, key: Buffer): boolean;
  /** All keys (iteration snapshot). */
  mapKeys(map: string): Buffer[];
  /** File descriptor of a loaded map (for diagnostics). */
  mapFd(map: string): number;

  /**
   * Start consuming a BPF_MAP_TYPE_RINGBUF map on the libuv loop (uv_poll on ring_buffer__epoll_fd).
   * Samples are copied into batches of at most `maxBatchBytes` (default 4 MiB; one sample larger than that
   * makes a batch of its own) and handed to `cb`.
   */
  openRingBuffer(map: string, cb: BatchCallback, maxBatchBytes?: number): void;
  /**
   * Start consuming a BPF_MAP_TYPE_PERF_EVENT_ARRAY map (fallback where ring buffers are missing).
   * `lost` receives (cpu, count), accumulated per CPU, after each batch. `pagesPerCpu` must be a power of 2.
   * Perf buffers cannot stop inside one CPU's buffer: `maxBatchBytes` is checked between CPU buffers, so a
   * batch may exceed it by up to one CPU buffer's content.
   */
  openPerfBuffer(map: string, pagesPerCpu: number, cb: BatchCallback, lost: (cpu: number, count: number) => void, maxBatchBytes?: number): void;
  /**
   * Drain whatever is pending in all open buffers synchronously (used before close to lose nothing).
   * Returns the number of samples delivered; rethrows the first exception thrown by a callback.
   */
  drainBuffers(): number;

  /** Detach every link, stop buffers, destroy clsact qdiscs it created, close the object. Idempotent. */
  close(): void;
}

/** libbpf's version, e.g. "1.1". */
export function libbpfVersion(): string;
/** CLOCK_REALTIME − CLOCK_MONOTONIC in nanoseconds (to turn bpf_ktime_get_ns() into wall-clock time). */
export function clockOffsetNs(): bigint;
/** CLOCK_MONOTONIC now, nanoseconds. */
export function monotonicNs(): bigint;
export function numPossibleCpus(): number;
/**
 * Feature probes (libbpf_probe_bpf_*). Names as in enum bpf_prog_type / bpf_map_type / enum bpf_func_id without
 * prefix, lower case (helpers also with the "bpf_" prefix). Unknown names throw a NativeError (EINVAL).
 */
export function probeProgType(type: string): boolean;
export function probeMapType(type: string): boolean;
export function probeHelper(progType: string, helper: string): boolean;
/** Does the kernel create uprobe_multi links (Linux >= 6.6 with uprobes)? */
export function probeUprobeMulti(): boolean;
/**
 * Route libbpf's log: level 0 = warnings only (kept for errors), 1 = info, 2 = debug (printed via cb).
 * `cb` is called synchronously, once per line, while libbpf runs; it must not call into the addon
 * (such calls throw). Exceptions it throws are reported with process.emitWarning.
 */
export function setLogCallback(level: number, cb: ((level: number, line: string) => void) | null): void;
/** mount(2) a pseudo filesystem (tracefs, bpf, debugfs) at a path. */
export function mountFs(fstype: string, target: string): void;
/** Raise RLIMIT_MEMLOCK to infinity; returns false (never throws) when not permitted. */
export function raiseMemlock(): boolean;
/** if_nametoindex(3); 0 when unknown. */
export function ifNameToIndex(name: string): number;
/** The cgroup v2 id of a directory (name_to_handle_at, 8-byte handle). */
export function cgroupId(path: string): bigint;

/**
 * Compile a pcap-filter(7) expression with libpcap's pcap_compile for a link type (DLT_*) and snaplen.
 * Returns the classic BPF program: n × 8 bytes (u16 code, u8 jt, u8 jf, u32 k; host order).
 * Throws a NativeError with libpcap's message on a bad expression.
 */
export function pcapCompile(expr: string, linkType: number, snaplen: number): Buffer;
/** Run a compiled classic BPF program over a packet (libpcap bpf_filter); returns the accepted length (0 = reject). */
export function pcapFilter(program: Buffer, packet: Buffer, wireLen: number): number;
