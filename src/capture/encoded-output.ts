/**
 * An output = an encoder (record → bytes) × a byte sink. The sink owns buffering, back-pressure and
 * flushing; this class only counts and never lets an encoder or sink error reach the capture path.
 */
import type { CaptureRecord } from '../model/records.js';
import type { RecordOutput } from './pipeline.js';

export interface ByteSink {
  /** never blocks, never throws */
  write(chunk: Buffer | string): unknown;
  flush(): Promise<void>;
  close(): Promise<void>;
  stats(): { name: string; written: number; bytes: number; dropped: number };
}

export type RecordEncoder = (rec: CaptureRecord) => Buffer | string | (Buffer | string)[] | undefined;

export class EncodedOutput implements RecordOutput {
  private encodeErrors = 0;
  private records = 0;
  constructor(
    readonly name: string,
    private encode: RecordEncoder,
    private sink: ByteSink,
    private accept: (rec: CaptureRecord) => boolean = () => true,
  ) {}

  setEncoder(e: RecordEncoder): void {
    this.encode = e;
  }

  write(rec: CaptureRecord): void {
    if (!this.accept(rec)) return;
    let chunk: ReturnType<RecordEncoder>;
    try {
      chunk = this.encode(rec);
    } catch {
      this.encodeErrors++;
      return;
    }
    if (chunk === undefined || chunk.length === 0) return;
    this.records++;
    if (Array.isArray(chunk)) for (const c of chunk) this.sink.write(c);
    else this.sink.write(chunk);
  }

  flush(): Promise<void> {
    return this.sink.flush();
  }

  close(): Promise<void> {
    return this.sink.close();
  }

  stats(): Record<string, number | string | boolean> {
    const s = this.sink.stats();
    const out: Record<string, number | string | boolean> = { records: this.records, encodeErrors: this.encodeErrors };
    for (const [k, v] of Object.entries(s as Record<string, unknown>)) if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') out[k] = v;
    return out;
  }
}

/**
 * A minimal synchronous fd sink (stdout or an already-open file): gathers chunks and writes them with
 * one writeSync per event-loop turn. Used until/unless a richer sink is configured; EPIPE ends output.
 */
import { writeSync, writevSync } from 'node:fs';

export class FdSink implements ByteSink {
  private parts: (Buffer | string)[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  private closed = false;
  private counters = { written: 0, bytes: 0, dropped: 0 };
  constructor(
    private readonly fd: number,
    readonly sinkName = `fd:${fd}`,
    private readonly maxPending = 8 << 20,
  ) {}

  write(chunk: Buffer | string): void {
    if (this.closed) {
      this.counters.dropped++;
      return;
    }
    this.parts.push(chunk);
    this.pendingBytes += chunk.length;
    this.counters.written++;
    if (this.pendingBytes >= this.maxPending) this.flushSync();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flushSync());
    }
  }

  /**
   * Write everything pending with writev (up to 1024 buffers per call): large payloads go from the ring
   * batch to the kernel without an extra copy; small strings are merged first.
   */
  flushSync(): void {
    this.scheduled = false;
    if (this.parts.length === 0) return;
    // strings are UTF-8 text; runs of small pieces are merged, large buffers are passed as they are
    const bufs: Buffer[] = [];
    let run: Buffer[] = [];
    for (const p of this.parts) {
      const b = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
      if (b.length < 1024) run.push(b);
      else {
        if (run.length) bufs.push(run.length === 1 ? run[0]! : Buffer.concat(run)), (run = []);
        bufs.push(b);
      }
    }
    if (run.length) bufs.push(run.length === 1 ? run[0]! : Buffer.concat(run));
    this.parts = [];
    this.pendingBytes = 0;
    for (let i = 0; i < bufs.length && !this.closed; i += 1024) this.writeAll(bufs.slice(i, i + 1024));
  }

  private writeAll(bufs: Buffer[]): void {
    let total = 0;
    for (const b of bufs) total += b.length;
    let done = 0;
    while (done < total && !this.closed) {
      try {
        let n = bufs.length === 1 ? writeSync(this.fd, bufs[0]!) : writevSync(this.fd, bufs);
        done += n;
        this.counters.bytes += n;
        // drop what was written
        while (n > 0 && bufs.length) {
          if (n >= bufs[0]!.length) n -= bufs.shift()!.length;
          else {
            bufs[0] = bufs[0]!.subarray(n);
            n = 0;
          }
        }
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') continue;
        // EPIPE (reader went away) and other errors: output has ended, capture goes on
        this.closed = true;
        this.counters.dropped++;
        return;
      }
    }
  }

  async flush(): Promise<void> {
    this.flushSync();
  }

  async close(): Promise<void> {
    this.flushSync();
    this.closed = true;
  }

  stats(): { name: string; written: number; bytes: number; dropped: number } {
    return { name: this.sinkName, ...this.counters };
  }
}
