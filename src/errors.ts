/**
 * The whole error taxonomy of ecapture-ts (one file, stable codes; modelled on undici's core/errors).
 *
 * Every error the tool raises on purpose is a CaptureError with a stable `code` (ECAP_<AREA>_<WHAT>),
 * a one-line message that says what was being done, an optional `hint` that says what the user can do,
 * and the underlying cause. The CLI prints `error: <message> [<code>]` and the hint, then exits non-zero.
 */

export type ErrorCode =
  | 'ECAP_CONFIG'
  | 'ECAP_CONFIG_FLAG'
  | 'ECAP_PRIVILEGE'
  | 'ECAP_KERNEL_FEATURE'
  | 'ECAP_BTF'
  | 'ECAP_BPF_OPEN'
  | 'ECAP_BPF_LOAD'
  | 'ECAP_BPF_MAP'
  | 'ECAP_ATTACH'
  | 'ECAP_ATTACH_NO_SYMBOL'
  | 'ECAP_NO_TARGET'
  | 'ECAP_NO_PROCESS'
  | 'ECAP_ELF'
  | 'ECAP_DECODE_SHORT'
  | 'ECAP_PROTOCOL'
  | 'ECAP_OUTPUT'
  | 'ECAP_SINK'
  | 'ECAP_SERVER'
  | 'ECAP_INTERNAL';

const brand = Symbol.for('ecapture-ts.CaptureError');

export interface CaptureErrorOptions {
  cause?: unknown;
  hint?: string;
  details?: Record<string, unknown>;
}

export class CaptureError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown>;
  readonly [brand] = true;

  constructor(code: ErrorCode, message: string, opts: CaptureErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CaptureError';
    this.code = code;
    this.hint = opts.hint;
    this.details = opts.details ?? {};
  }

  static override [Symbol.hasInstance](v: unknown): boolean {
    return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[brand] === true;
  }

  /** errno of the innermost cause, if any (native errors carry `errno`). */
  get errno(): number | undefined {
    // start at the cause: reading this.errno here would call this getter again
    let c: unknown = this.cause;
    for (let i = 0; i < 8 && c; i++) {
      const e = (c as { errno?: unknown }).errno;
      if (typeof e === 'number') return e;
      c = (c as { cause?: unknown }).cause;
    }
    return undefined;
  }
}

export class ConfigError extends CaptureError {
  constructor(message: string, opts: CaptureErrorOptions & { field?: string } = {}) {
    super('ECAP_CONFIG', message, { ...opts, details: { ...opts.details, field: opts.field } });
    this.name = 'ConfigError';
  }
}

export class BpfLoadError extends CaptureError {
  /** The full verifier / libbpf log; `message` carries only its meaningful tail. */
  readonly log: string;
  constructor(message: string, log: string, opts: CaptureErrorOptions = {}) {
    super('ECAP_BPF_LOAD', message, opts);
    this.name = 'BpfLoadError';
    this.log = log;
  }
}

export class AttachError extends CaptureError {
  constructor(code: 'ECAP_ATTACH' | 'ECAP_ATTACH_NO_SYMBOL', message: string, opts: CaptureErrorOptions = {}) {
    super(code, message, opts);
    this.name = 'AttachError';
  }
}

export class DecodeError extends CaptureError {
  constructor(message: string, opts: CaptureErrorOptions = {}) {
    super('ECAP_DECODE_SHORT', message, opts);
    this.name = 'DecodeError';
  }
}

/** errno → short words, for messages ("EPERM: operation not permitted"). */
export function errnoName(errno: number): string {
  const names: Record<number, string> = {
    1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 5: 'EIO', 7: 'E2BIG', 9: 'EBADF', 11: 'EAGAIN', 12: 'ENOMEM',
    13: 'EACCES', 14: 'EFAULT', 16: 'EBUSY', 17: 'EEXIST', 19: 'ENODEV', 22: 'EINVAL', 24: 'EMFILE', 28: 'ENOSPC',
    95: 'EOPNOTSUPP', 524: 'ENOTSUPP', 71: 'EPROTO',
  };
  return names[Math.abs(errno)] ?? `errno ${Math.abs(errno)}`;
}

/** A hint for common errnos seen when loading or attaching BPF. */
export function hintForErrno(errno: number | undefined): string | undefined {
  switch (errno === undefined ? undefined : Math.abs(errno)) {
    case 1:
    case 13:
      return 'run as root, or grant CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE (and CAP_NET_ADMIN for pcap mode)';
    case 12:
      return 'the kernel refused memory for BPF maps: lower --mapsize, or raise the memory cgroup / RLIMIT_MEMLOCK limit';
    case 2:
      return 'the target does not exist (check the path or pid)';
    case 16:
      return 'the resource is busy: another tool may hold it';
    default:
      return undefined;
  }
}

/** Format an error for the one-line CLI report. */
export function formatError(err: unknown): { line: string; hint?: string } {
  if (err instanceof CaptureError) {
    return { line: `error: ${err.message} [${err.code}]`, hint: err.hint ?? hintForErrno(err.errno) };
  }
  const e = err as { message?: unknown; code?: unknown };
  const msg = typeof e?.message === 'string' ? e.message : String(err);
  return { line: `error: ${msg}${typeof e?.code === 'string' ? ` [${e.code}]` : ''}` };
}
