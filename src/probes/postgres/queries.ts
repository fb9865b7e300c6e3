/**
 * PostgreSQL statements from the events of bpf/db/postgres.bpf.c: one QueryRecord per client statement
 * (simple Query, Parse, execution = Bind + Execute) when its outcome is known, with the full text, the session (database,
 * user@client) and the outcome: SUCCESS, or the ErrorResponse the backend sent ("ERROR 42P01: relation ...").
 * Pure code.
 */
import { TextSource } from '../../gen/events.js';
import type { CaptureRecord, QueryRecord, Who } from '../../model/records.js';
import { BoundedMap, TextAssembler, decodeTextChunk, textOf, type TextChunk } from '../bash/text.js';
import { whoOfHdr } from '../bash/shell.js';
import type { AuditHandler } from '../bash/audit-module.js';

/** protocol message → kind: 'Q' simple query, 'P' Parse, 'B' Bind (an execution of a prepared statement) */
const KIND: Record<number, string> = { 0x51: 'simple', 0x50: 'parse', 0x42: 'execute' };

interface OpenStmt {
  who: Who;
  startNs: number;
  kind?: string;
  text?: string;
  length: number;
  truncated: boolean;
}

interface PgSession {
  database: string;
  user: string;
  host: string;
  port: string;
}

/** Fields of an ErrorResponse body: type byte → value (https://www.postgresql.org/docs/current/protocol-error-fields.html). */
export function errorFields(body: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const type = String.fromCharCode(body[i]!);
    let z = body.indexOf(0, i + 1);
    if (z < 0) z = body.length;
    out.set(type, textOf(body.subarray(i + 1, z)));
    i = z + 1;
  }
  return out;
}

/** "ERROR 42P01: relation "x" does not exist" */
export function pgStatus(retval: number, body: Buffer): string {
  if (retval === 0) return 'SUCCESS';
  if (retval < 0) return 'UNKNOWN';
  const f = errorFields(body);
  const sev = f.get('V') ?? f.get('S') ?? 'ERROR';
  const code = f.get('C');
  const msg = (f.get('M') ?? '').replace(/\s+/g, ' ');
  return `${sev}${code ? ` ${code}` : ''}${msg ? `: ${msg}` : ''}`;
}

export class PostgresQueries implements AuditHandler {
  readonly counters = { events: 0, bytes: 0, decodeErrors: 0, records: 0, truncatedQueries: 0, failed: 0 };
  private readonly open = new BoundedMap<string, OpenStmt>(8192);
  private readonly sessions = new BoundedMap<number, PgSession>(16384);
  private readonly texts = new TextAssembler();

  constructor(
    private readonly wallClock: (monoNs: number) => bigint,
    private readonly emit: (rec: CaptureRecord) => void,
  ) {}

  handle(sample: Buffer): void {
    const c = decodeTextChunk(sample);
    if (!c) {
      this.counters.decodeErrors++;
      return;
    }
    this.counters.events++;
    this.counters.bytes += c.bytes.length;
    const key = `${c.event.hdr.pid}:${c.event.id}`;
    switch (c.event.source) {
      case TextSource.TEXT_PG_CTX:
        this.context(c);
        break;
      case TextSource.TEXT_PG_QUERY:
        this.query(key, c);
        break;
      case TextSource.TEXT_PG_END:
        this.end(key, c);
        break;
      default:
        this.counters.decodeErrors++;
    }
  }

  private context(c: TextChunk): void {
    const [database = '', user = '', host = '', port = ''] = c.bytes.toString('utf8').split('\0');
    this.sessions.set(c.event.hdr.pid, { database, user, host, port });
  }

  private query(key: string, c: TextChunk): void {
    let o = this.open.get(key);
    if (!o) {
      o = { who: whoOfHdr(c.event.hdr), startNs: c.event.hdr.tsNs, length: 0, truncated: false };
      const kind = KIND[c.event.aux];
      if (kind) o.kind = kind;
      this.open.set(key, o);
    }
    const t = this.texts.add(key, c);
    if (!t) return;
    o.text = textOf(t.text);
    o.length = t.length;
    o.truncated = t.truncated || t.incomplete;
  }

  private end(key: string, c: TextChunk): void {
    const o = this.open.get(key);
    if (!o) return;
    this.open.delete(key);
    this.texts.forget(key);
    this.record(o, c.event.retval, c.bytes);
  }

  private record(o: OpenStmt, retval: number | undefined, errBody: Buffer): void {
    if (o.text === undefined) return; // its text never completed (chunks lost)
    const rec: QueryRecord = {
      type: 'query',
      ts: this.wallClock(o.startNs),
      module: 'postgres',
      who: o.who,
      db: 'postgres',
      query: o.text,
      length: o.length,
      status: retval === undefined ? 'UNKNOWN' : pgStatus(retval, errBody),
    };
    if (retval !== undefined && retval >= 0) rec.retval = retval;
    if (retval === 1) this.counters.failed++;
    if (o.kind) rec.kind = o.kind;
    if (o.truncated) {
      rec.truncated = true;
      this.counters.truncatedQueries++;
    }
    const s = this.sessions.get(o.who.pid);
    if (s) {
      if (s.database) rec.database = s.database;
      const where = s.host ? `${s.host}${s.port ? `:${s.port}` : ''}` : '';
      if (s.user || where) rec.client = s.user && where ? `${s.user}@${where}` : s.user || where;
    }
    this.counters.records++;
    this.emit(rec);
  }

  /** At close: statements still running are shown without an outcome. */
  flush(): void {
    for (const o of this.open.values()) this.record(o, undefined, Buffer.alloc(0));
    this.open.clear();
  }
}
