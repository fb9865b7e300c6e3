/**
 * Address → sink, with eCapture's dispatch (internal/output/writers/factory.go): "" or "stdout" → standard output;
 * `tcp://host:port`; `ws://` / `wss://` URLs; anything else is a file path. Rotation applies to files only.
 *
 * Standard output is one shared sink per process (logs and events both default to it), so their lines never
 * interleave mid-chunk; closing it through one owner does not close it for the other until both closed.
 */
import { CaptureError } from '../../errors.js';
import type { Framing } from '../encoders/types.js';
import { FileSink } from './file.js';
import { StdoutSink } from './stdout.js';
import { TcpSink } from './tcp.js';
import { WsSink } from './ws.js';
import type { Sink, SinkKind, SinkOptions, SinkStats } from './types.js';

export interface CreateSinkOptions extends SinkOptions {
  /** --eventroratesize: rotate at N MiB (files only) */
  rotateSizeMB?: number;
  /** --eventroratetime: rotate every N seconds (files only) */
  rotateSeconds?: number;
  /** wss:// trust: extra CA (PEM), or accept any certificate */
  tls?: { ca?: string | Buffer; insecure?: boolean };
  /** ws sinks: eCapture's base64 text frames instead of one raw frame per chunk */
  wsBase64?: boolean;
  /** the flag the address came from, for error messages, e.g. 'eventaddr' */
  flag?: string;
}

export function sinkKind(address: string): SinkKind {
  const a = address.trim();
  if (a === '' || a === 'stdout' || a === '-') return 'stdout';
  const lower = a.toLowerCase();
  if (lower.startsWith('tcp://')) return 'tcp';
  if (lower.startsWith('ws://') || lower.startsWith('wss://')) return 'ws';
  return 'file';
}

/** The framing encoders must use for this address: WebSocket frames delimit messages, the others are streams. */
export function framingFor(address: string): Framing {
  return sinkKind(address) === 'ws' ? 'message' : 'stream';
}

let sharedStdout: { sink: StdoutSink; refs: number } | undefined;

/** A handle on the shared stdout sink; close() releases this handle (the last one flushes). */
class StdoutHandle implements Sink {
  readonly name = 'stdout';
  readonly kind = 'stdout' as const;
  #closed = false;
  constructor(private readonly inner: StdoutSink) {}
  write(chunk: Buffer | string): boolean {
    return this.inner.write(chunk);
  }
  writeParts(parts: readonly (Buffer | string)[]): boolean {
    return this.inner.writeParts(parts);
  }
  flush(timeoutMs?: number): Promise<void> {
    return this.inner.flush(timeoutMs);
  }
  flushSync(): void {
    this.inner.flushSync();
  }
  stats(): SinkStats {
    return this.inner.stats();
  }
  async close(timeoutMs?: number): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const s = sharedStdout;
    if (!s || s.sink !== this.inner) return;
    if (--s.refs > 0) return this.inner.flush(timeoutMs);
    sharedStdout = undefined;
    return this.inner.close(timeoutMs);
  }
}

function positive(v: number | undefined, flag: string, max: number): number {
  if (v === undefined || v === 0) return 0;
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new CaptureError('ECAP_CONFIG_FLAG', `--${flag} must be an integer from 0 to ${max}, got ${v}`, { details: { field: flag } });
  }
  return v;
}

/** Create the sink for an address. Throws CaptureError (ECAP_SINK / ECAP_CONFIG_FLAG) for unusable addresses. */
export function createSink(address: string, opts: CreateSinkOptions = {}): Sink {
  const kind = sinkKind(address);
  const sizeMB = positive(opts.rotateSizeMB, 'eventroratesize', 65535);
  const seconds = positive(opts.rotateSeconds, 'eventroratetime', 65535);
  if (kind !== 'file' && (sizeMB || seconds)) {
    opts.onNotice?.({ sink: address || 'stdout', kind: 'error', level: 'warn',
      message: `rotation (--eventroratesize/--eventroratetime) applies to file outputs only; ignored for ${address || 'stdout'}` });
  }
  const base: SinkOptions = {
    ...(opts.maxBufferBytes !== undefined ? { maxBufferBytes: opts.maxBufferBytes } : {}),
    ...(opts.maxBatchBytes !== undefined ? { maxBatchBytes: opts.maxBatchBytes } : {}),
    ...(opts.onNotice ? { onNotice: opts.onNotice } : {}),
    ...(opts.backoff ? { backoff: opts.backoff } : {}),
  };
  try {
    switch (kind) {
      case 'stdout':
        sharedStdout ??= { sink: new StdoutSink(base), refs: 0 };
        sharedStdout.refs++;
        return new StdoutHandle(sharedStdout.sink);
      case 'tcp':
        return new TcpSink(address.trim(), base);
      case 'ws':
        return new WsSink(address.trim(), {
          ...base,
          ...(opts.tls?.ca !== undefined ? { ca: opts.tls.ca } : {}),
          ...(opts.tls?.insecure ? { insecure: true } : {}),
          ...(opts.wsBase64 ? { base64: true } : {}),
        });
      case 'file':
        return new FileSink(address, { ...base, rotateBytes: sizeMB * 1024 * 1024, rotateMs: seconds * 1000 });
    }
  } catch (err) {
    if (err instanceof CaptureError && opts.flag) err.details.field ??= opts.flag;
    throw err;
  }
}

/**
 * On process 'exit' (no event loop left), write what stdout and file sinks still hold, synchronously.
 * The normal path is `await sink.close()` during shutdown; this is the safety net. Returns an uninstaller.
 */
export function flushOnExit(sinks: Iterable<Sink>): () => void {
  const list = [...sinks];
  const onExit = () => {
    for (const s of list) s.flushSync();
  };
  process.on('exit', onExit);
  return () => process.off('exit', onExit);
}
