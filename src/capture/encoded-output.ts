/**
 * An output = an encoder (record → bytes) × a byte sink. The sink owns buffering, back-pressure and
 * flushing; this class only counts and never lets an encoder or sink error reach the capture path.
 */
import type { CaptureRecord } from '../model/records.js';
import type { RecordOutput } from './pipeline.js';

export interface ByteSink {
  /** never blocks, never throws */
  write(chunk: Buffer | string): unknown;
  /** the pieces of one record, back to back (sinks stage small ones together) */
  writeParts?(parts: readonly (Buffer | string)[]): unknown;
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
    if (!Array.isArray(chunk)) this.sink.write(chunk);
    else if (this.sink.writeParts) this.sink.writeParts(chunk);
    else for (const c of chunk) this.sink.write(c);
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
