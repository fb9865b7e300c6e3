/**
 * The tool's own log (not captured events). pino does the logging; a small destination turns its JSON
 * lines into eCapture-style console lines
 *     2026-11-26T00:39:52Z INF message key=value key2="a b"
 * and hands them to taps: stderr by default, the --logaddr sink, the eCaptureQ run-log stream.
 */
import pino from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
  readonly level: LogLevel;
}

export type LogTap = (line: string) => void;

const LEVEL_TAG: Record<number, string> = { 10: 'TRC', 20: 'DBG', 30: 'INF', 40: 'WRN', 50: 'ERR', 60: 'FTL' };
const RESERVED = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

function fmtValue(v: unknown): string {
  if (typeof v === 'string') return /^[\w./:@+-]*$/.test(v) && v !== '' ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/** Format one pino JSON object as a console line (no trailing newline). */
export function formatLogLine(o: Record<string, unknown>): string {
  const t = typeof o.time === 'number' ? new Date(o.time).toISOString().replace(/\.\d{3}Z$/, 'Z') : '';
  const lvl = LEVEL_TAG[o.level as number] ?? '???';
  let line = `${t} ${lvl} ${String(o.msg ?? '')}`;
  for (const [k, v] of Object.entries(o)) {
    if (RESERVED.has(k) || v === undefined) continue;
    line += ` ${k}=${fmtValue(v)}`;
  }
  return line;
}

class TapDestination {
  taps: LogTap[] = [];
  write(chunk: string): void {
    for (const raw of chunk.split('\n')) {
      if (!raw) continue;
      let line = raw;
      try {
        line = formatLogLine(JSON.parse(raw) as Record<string, unknown>);
      } catch {
        /* not JSON: pass as is */
      }
      for (const t of this.taps) {
        try {
          t(line);
        } catch {
          /* a broken tap must not break logging */
        }
      }
    }
  }
}

function wrap(p: pino.Logger, level: LogLevel): Logger {
  const call = (fn: 'debug' | 'info' | 'warn' | 'error') => (msg: string, fields?: LogFields) => {
    if (fields) p[fn](fields, msg);
    else p[fn](msg);
  };
  return {
    debug: call('debug'),
    info: call('info'),
    warn: call('warn'),
    error: call('error'),
    child: (fields) => wrap(p.child(fields), level),
    level,
  };
}

export interface RootLogger extends Logger {
  addTap(tap: LogTap): () => void;
  setLevel(level: LogLevel): void;
}

/** Create the root logger. By default lines go to stderr (captured events own stdout). */
export function createLogger(opts: { level?: LogLevel; stderr?: boolean } = {}): RootLogger {
  const dest = new TapDestination();
  if (opts.stderr !== false) dest.taps.push((line) => process.stderr.write(`${line}\n`));
  let level: LogLevel = opts.level ?? 'info';
  const p = pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.epochTime }, dest as unknown as pino.DestinationStream);
  const root = wrap(p, level) as RootLogger;
  root.addTap = (tap) => {
    dest.taps.push(tap);
    return () => {
      dest.taps = dest.taps.filter((t) => t !== tap);
    };
  };
  root.setLevel = (l) => {
    level = l;
    p.level = l;
  };
  Object.defineProperty(root, 'level', { get: () => level });
  return root;
}

/** A logger that drops everything (tests, benchmarks). */
export const nullLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return nullLogger;
  },
  level: 'error',
};
