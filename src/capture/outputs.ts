/**
 * The outputs of a capture, built from the config: the event output (--format encoder × --eventaddr sink),
 * the log sink (--logaddr), and the eCaptureQ stream (--ecaptureq). Output settings can change while running
 * (HTTP config API): a new encoder takes over at the next record; a new sink is added before the old one is
 * flushed and closed, so no record is lost at the switch.
 */
import type { Config } from '../config/schema.js';
import type { CaptureRecord } from '../model/records.js';
import type { RootLogger } from '../log.js';
import { EncodedOutput, type RecordEncoder } from './encoded-output.js';
import type { Pipeline, RecordOutput } from './pipeline.js';
import { encodeText, type TextOptions } from '../output/encoders/text.js';
import { JsonEncoder } from '../output/encoders/json.js';
import type { TextOf } from '../output/encoders/types.js';
import { createSink, framingFor, sinkKind } from '../output/sinks/factory.js';
import type { Sink, SinkNotice } from '../output/sinks/types.js';
import type { ECaptureQServer } from '../server/ecaptureq.js';

// protobufjs is loaded only when a protobuf output or the eCaptureQ stream is asked for (startup time)
let protobufModule: typeof import('../output/encoders/protobuf.js') | undefined;

export type L7Formatter = TextOptions['formatL7'];

function textOptions(config: Config, tty: boolean, formatL7?: L7Formatter): TextOptions {
  const o: TextOptions = { hex: !!config.hex, tsize: Number(config.tsize ?? 0), tty };
  if (formatL7) o.formatL7 = formatL7;
  return o;
}

/** The text rendering of a record as one Buffer (protobuf Event.payload, eCaptureQ). */
export function makeTextOf(config: Config, formatL7?: L7Formatter): TextOf {
  const opts = textOptions(config, false, formatL7);
  return (rec) => {
    const e = encodeText(rec, opts);
    if (Array.isArray(e)) return Buffer.concat(e.map((x) => (typeof x === 'string' ? Buffer.from(x) : x)));
    return typeof e === 'string' ? Buffer.from(e) : e;
  };
}

export function makeEncoder(config: Config, address: string, formatL7?: L7Formatter): RecordEncoder {
  const format = String(config.format ?? 'text');
  const framing = framingFor(address);
  if (format === 'json') {
    const j = new JsonEncoder({ framing });
    return (r) => j.encode(r);
  }
  if (format === 'protobuf') {
    if (!protobufModule) throw new Error('internal: protobuf encoder not loaded (OutputManager.apply loads it)');
    const p = new protobufModule.ProtobufEncoder(makeTextOf(config, formatL7), { framing });
    return (r) => p.encode(r);
  }
  const tty = sinkKind(address) === 'stdout' && !!process.stdout.isTTY;
  const opts = textOptions(config, tty, formatL7);
  if (framing === 'message') {
    // one WebSocket frame per record: join the parts
    const textOf = makeTextOf(config, formatL7);
    return (r) => textOf(r);
  }
  return (r) => encodeText(r, opts);
}

/** Where events go: --eventaddr, else where logs go (--logaddr), else stdout. */
export function eventAddress(config: Config): string {
  const e = String(config.eventaddr ?? '');
  return e || String(config.logaddr ?? '');
}

class ECaptureQOutput implements RecordOutput {
  readonly name = 'ecaptureq';
  constructor(
    readonly server: ECaptureQServer,
    private textOf: TextOf,
  ) {}
  setTextOf(t: TextOf): void {
    this.textOf = t;
  }
  write(rec: CaptureRecord): void {
    this.server.pushEvent(rec, this.textOf);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {
    await this.server.close();
  }
  stats(): Record<string, number | string | boolean> {
    const s = this.server.stats() as unknown as Record<string, unknown>;
    const out: Record<string, number | string | boolean> = {};
    for (const [k, v] of Object.entries(s)) if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') out[k] = v;
    return out;
  }
}

export class OutputManager {
  private events: EncodedOutput | undefined;
  private eventSink: Sink | undefined;
  private eventKey = '';
  private logSink: Sink | undefined;
  private logAddr = '';
  private untapLog: (() => void) | undefined;
  private ecq: ECaptureQOutput | undefined;
  private untapEcq: (() => void) | undefined;
  private formatL7: L7Formatter | undefined;

  constructor(
    private readonly log: RootLogger,
    private readonly pipeline: Pipeline,
  ) {}

  setL7Formatter(f: L7Formatter): void {
    this.formatL7 = f;
  }

  private notice = (n: SinkNotice): void => {
    const fields: Record<string, unknown> = { sink: n.sink };
    if (n.dropped !== undefined) fields.dropped = n.dropped;
    if (n.totalDropped !== undefined) fields.total_dropped = n.totalDropped;
    this.log[n.level === 'error' ? 'error' : n.level === 'warn' ? 'warn' : 'info'](n.message, fields);
  };

  private sink(address: string, config: Config, flag: string): Sink {
    return createSink(address, {
      rotateSizeMB: flag === 'eventaddr' ? Number(config.eventroratesize ?? 0) : 0,
      rotateSeconds: flag === 'eventaddr' ? Number(config.eventroratetime ?? 0) : 0,
      onNotice: this.notice,
      flag,
    });
  }

  /** Build every output for `config` (first call) or move to a changed config. */
  async apply(config: Config): Promise<void> {
    // logs
    const logAddr = String(config.logaddr ?? '');
    if (logAddr !== this.logAddr || (!this.logSink && logAddr)) {
      const old = this.logSink;
      const oldTap = this.untapLog;
      this.logSink = undefined;
      this.untapLog = undefined;
      if (logAddr && logAddr !== 'stdout') {
        const s = this.sink(logAddr, config, 'logaddr');
        this.logSink = s;
        this.untapLog = this.log.addTap((line) => s.write(`${line}\n`));
      }
      oldTap?.();
      await old?.close().catch(() => undefined);
      this.logAddr = logAddr;
    }
    // events: sink, then encoder
    if (String(config.format) === 'protobuf' || config.ecaptureq) protobufModule ??= await import('../output/encoders/protobuf.js');
    const addr = eventAddress(config);
    const encoder = makeEncoder(config, addr, this.formatL7);
    const key = `${addr}|${config.eventroratesize ?? 0}|${config.eventroratetime ?? 0}`;
    if (!this.events || key !== this.eventKey) {
      const s = addr && addr === logAddr && this.logSink ? this.logSink : this.sink(addr, config, 'eventaddr');
      const out = new EncodedOutput('events', encoder, s);
      const prev = this.events;
      const prevSink = this.eventSink;
      this.pipeline.addOutput(out); // the new output is in place before the old one goes
      this.events = out;
      this.eventSink = s;
      this.eventKey = key;
      if (prev) {
        this.pipeline.removeOutput(prev);
        await prev.flush().catch(() => undefined);
        if (prevSink && prevSink !== this.logSink) await prevSink.close().catch(() => undefined);
      }
    } else {
      this.events.setEncoder(encoder);
    }
    // eCaptureQ
    const url = String(config.ecaptureq ?? '');
    if (url && !this.ecq) {
      const { ECaptureQServer } = await import('../server/ecaptureq.js');
      const server = new ECaptureQServer({ onNotice: (level, message) => this.log[level](message) });
      const where = await server.start(url);
      this.ecq = new ECaptureQOutput(server, makeTextOf(config, this.formatL7));
      this.pipeline.addOutput(this.ecq);
      this.untapEcq = this.log.addTap((line) => server.pushLog(line));
      this.log.info('eCaptureQ stream listening', { url: `ws://${where.host}:${where.port}/` });
    } else if (this.ecq) {
      this.ecq.setTextOf(makeTextOf(config, this.formatL7));
    }
  }

  stats(): Record<string, Record<string, number | string | boolean>> {
    const out: Record<string, Record<string, number | string | boolean>> = {};
    if (this.events) out.events = this.events.stats();
    if (this.logSink) out.logs = this.logSink.stats() as unknown as Record<string, number | string | boolean>;
    if (this.ecq) out.ecaptureq = this.ecq.stats();
    return out;
  }

  /** Flush and close everything: events first, then the eCaptureQ stream, then logs. */
  async close(): Promise<void> {
    if (this.events) {
      await this.events.flush().catch(() => undefined);
      if (this.eventSink !== this.logSink) await this.eventSink?.close().catch(() => undefined);
    }
    this.untapEcq?.();
    await this.ecq?.close().catch(() => undefined);
    this.untapLog?.();
    await this.logSink?.close().catch(() => undefined);
  }
}
