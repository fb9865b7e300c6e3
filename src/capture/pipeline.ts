/**
 * Where records go after a probe decodes them: connection tracking (ordering, gaps, protocol parsing),
 * then every output (encoder × sink). Records are handled synchronously in the ring-buffer callback; the
 * outputs buffer and flush on their own, and never block or throw into the capture path.
 */
import type { CaptureRecord, ConnCloseRecord, DataRecord, Direction } from '../model/records.js';

/** The connection tracker's surface, as the pipeline uses it (src/conn/tracker.ts). */
export interface RecordStage {
  push(rec: CaptureRecord): CaptureRecord[];
  /** periodic: idle timeouts */
  tick(nowNs: bigint): CaptureRecord[];
  /** end of capture: everything pending */
  flush(): CaptureRecord[];
  stats?(): Record<string, number>;
}

export interface RecordOutput {
  readonly name: string;
  write(rec: CaptureRecord): void;
  flush(): Promise<void>;
  close(): Promise<void>;
  stats(): Record<string, number | string | boolean>;
}

/** A pass-through stage that only detects sequence gaps (used when no tracker is configured). */
export class GapStage implements RecordStage {
  /**
   * Next expected position per pid, connId and direction. Two map levels, no key string per event (the
   * connId strings come from the probes' per-connection caches): `${pid}/${connId}/${dir}` keys were ~7% of
   * the 100-byte pipeline benchmark's profile.
   */
  private next = new Map<number, Map<string, Record<Direction, number | undefined>>>();
  push(rec: CaptureRecord): CaptureRecord[] {
    if (rec.type === 'conn_close' && rec.finalSeq) {
      const out: CaptureRecord[] = [];
      const perPid = this.next.get(rec.who.pid);
      const n = perPid?.get(rec.connId);
      for (const dir of ['read', 'write'] as const) {
        const exp = n?.[dir] ?? 0;
        const end = rec.finalSeq[dir];
        if (end > exp) out.push(this.gap(rec, dir, exp, end - exp));
      }
      if (n) {
        perPid!.delete(rec.connId);
        if (perPid!.size === 0) this.next.delete(rec.who.pid);
      }
      out.push(rec);
      return out;
    }
    if (rec.type !== 'data') return [rec];
    let perPid = this.next.get(rec.who.pid);
    if (!perPid) this.next.set(rec.who.pid, (perPid = new Map()));
    let n = perPid.get(rec.connId);
    if (!n) perPid.set(rec.connId, (n = { read: undefined, write: undefined }));
    const exp = n[rec.dir] ?? 0;
    n[rec.dir] = rec.seq + rec.payload.length;
    if (rec.seq > exp) return [this.gap(rec, rec.dir, exp, rec.seq - exp), rec];
    return [rec];
  }
  private gap(rec: DataRecord | ConnCloseRecord, dir: Direction, seq: number, lostBytes: number): CaptureRecord {
    const gap: CaptureRecord = { type: 'gap', ts: rec.ts, module: rec.module, who: rec.who, dir, fd: rec.fd, connId: rec.connId, seq, lostBytes };
    if (rec.tuple) gap.tuple = rec.tuple;
    return gap;
  }
  tick(): CaptureRecord[] {
    return [];
  }
  flush(): CaptureRecord[] {
    return [];
  }
}

export class Pipeline {
  private outputs: RecordOutput[] = [];
  readonly counters = { records: 0, data: 0, gaps: 0, lostBytes: 0, outputErrors: 0 };

  constructor(private stage: RecordStage) {}

  addOutput(o: RecordOutput): void {
    this.outputs.push(o);
  }

  removeOutput(o: RecordOutput): void {
    this.outputs = this.outputs.filter((x) => x !== o);
  }

  get outputList(): readonly RecordOutput[] {
    return this.outputs;
  }

  /** Entry point for probes. */
  push = (rec: CaptureRecord): void => {
    let out: CaptureRecord[];
    try {
      out = this.stage.push(rec);
    } catch {
      out = [rec]; // a stage bug must never lose the record
    }
    for (const r of out) this.deliver(r);
  };

  tick(nowNs: bigint): void {
    for (const r of this.stage.tick(nowNs)) this.deliver(r);
  }

  private deliver(r: CaptureRecord): void {
    this.counters.records++;
    if (r.type === 'data') this.counters.data++;
    else if (r.type === 'gap') {
      this.counters.gaps++;
      this.counters.lostBytes += r.lostBytes;
    }
    for (const o of this.outputs) {
      try {
        o.write(r);
      } catch {
        this.counters.outputErrors++;
      }
    }
  }

  /** Flush the stage and every output (end of capture). */
  async finish(): Promise<void> {
    for (const r of this.stage.flush()) this.deliver(r);
    await Promise.all(this.outputs.map((o) => o.flush().catch(() => undefined)));
  }

  async close(): Promise<void> {
    await this.finish();
    await Promise.all(this.outputs.map((o) => o.close().catch(() => undefined)));
  }

  stageStats(): Record<string, number> {
    return this.stage.stats?.() ?? {};
  }
}
