/**
 * MySQL/MariaDB queries from the events of bpf/db/mysqld.bpf.c: each reported command (COM_QUERY,
 * COM_STMT_PREPARE, COM_STMT_EXECUTE, COM_INIT_DB, COM_STMT_BULK_EXECUTE) becomes one QueryRecord when
 * dispatch_command returns, with its full text, its length, and its outcome (SUCCESS, or the SQL error the
 * statement ended with). Pure code.
 *
 * Prepared statements: the kernel reports the statement object a PREPARE created and the one an EXECUTE ran,
 * so an execution is shown with the text prepared on the same connection (THD) when that PREPARE was seen
 * (otherwise as `<statement N>`, N from the packet). The database
 * is the one the connection switched to with COM_INIT_DB or USE, when seen (not the one it connected with).
 */
import { TextSource } from '../../gen/events.js';
import type { CaptureRecord, QueryRecord, Who } from '../../model/records.js';
import { BoundedMap, TextAssembler, decodeTextChunk, textOf, type TextChunk } from '../bash/text.js';
import { whoOfHdr } from '../bash/shell.js';
import type { AuditHandler } from '../bash/audit-module.js';

export const COM = {
  INIT_DB: 2,
  QUERY: 3,
  STMT_PREPARE: 22,
  STMT_EXECUTE: 23,
  STMT_CLOSE: 25,
  STMT_RESET: 26,
  STMT_FETCH: 28,
  STMT_BULK_EXECUTE: 250,
} as const;

const HAS_TEXT = new Set<number>([COM.INIT_DB, COM.QUERY, COM.STMT_PREPARE]);

const KIND: Record<number, string> = {
  [COM.INIT_DB]: 'init_db',
  [COM.QUERY]: 'query',
  [COM.STMT_PREPARE]: 'prepare',
  [COM.STMT_EXECUTE]: 'execute',
  [COM.STMT_BULK_EXECUTE]: 'bulk_execute',
};

interface OpenCmd {
  who: Who;
  startNs: number;
  cmd: number;
  session: number;
  stmtId: number;
  text?: string;
  length: number;
  truncated: boolean;
}

interface Session {
  /** statement object address → prepared text */
  stmts: BoundedMap<number, string>;
  db?: string;
}

/** USE db (as the mysql client sends it) → db */
export function useDatabase(sql: string): string | undefined {
  const m = /^\s*use\s+(?:`([^`]+)`|([^\s;`]+))\s*;?\s*$/i.exec(sql);
  return m ? (m[1] ?? m[2]) : undefined;
}

/** The status text of a finished command. */
export function mysqlStatus(retval: number, errno: number, sqlstate: string, message: string): string {
  if (errno) return `ERROR ${errno}${sqlstate ? ` (${sqlstate})` : ''}: ${message.replace(/\s+/g, ' ')}`;
  return retval ? 'CLOSE_CONNECTION' : 'SUCCESS';
}

export class MysqlQueries implements AuditHandler {
  readonly counters = { events: 0, bytes: 0, decodeErrors: 0, records: 0, truncatedQueries: 0, failed: 0 };
  private readonly open = new BoundedMap<string, OpenCmd>(8192);
  private readonly sessions = new BoundedMap<string, Session>(4096);
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
    if (c.event.source === TextSource.TEXT_MYSQL_CMD) this.command(key, c);
    else if (c.event.source === TextSource.TEXT_MYSQL_END) this.end(key, c);
    else this.counters.decodeErrors++;
  }

  private session(pid: number, thd: number): Session {
    const k = `${pid}:${thd.toString(16)}`;
    let s = this.sessions.get(k);
    if (!s) {
      s = { stmts: new BoundedMap(1024) };
      this.sessions.set(k, s);
    }
    return s;
  }

  private command(key: string, c: TextChunk): void {
    const e = c.event;
    let o = this.open.get(key);
    if (!o) {
      o = { who: whoOfHdr(e.hdr), startNs: e.hdr.tsNs, cmd: e.aux, session: e.session, stmtId: e.value, length: e.totalLen, truncated: false };
      this.open.set(key, o);
    }
    const t = this.texts.add(key, c);
    if (!t || !HAS_TEXT.has(o.cmd)) return; // COM_STMT_* carry a statement id, no text
    o.text = textOf(t.text);
    o.truncated = t.truncated || t.incomplete;
  }

  private end(key: string, c: TextChunk): void {
    const o = this.open.get(key);
    if (!o) return;
    this.open.delete(key);
    this.texts.forget(key);
    const e = c.event;
    const z = c.bytes.indexOf(0);
    const sqlstate = z < 0 ? '' : c.bytes.toString('latin1', 0, z);
    const message = z < 0 ? '' : textOf(c.bytes.subarray(z + 1));
    const errno = e.aux;
    const ok = errno === 0;
    const s = this.session(o.who.pid, o.session);
    switch (o.cmd) {
      case COM.STMT_PREPARE:
        if (ok && e.value && o.text !== undefined) s.stmts.set(e.value, o.text);
        break;
      case COM.STMT_CLOSE:
      case COM.STMT_RESET:
      case COM.STMT_FETCH:
        return;
      case COM.INIT_DB:
        if (ok && o.text) s.db = o.text;
        break;
      case COM.QUERY: {
        const db = ok && o.text ? useDatabase(o.text) : undefined;
        if (db) s.db = db;
        break;
      }
    }
    const kind = KIND[o.cmd];
    if (!kind) return;
    let query = o.text;
    let length = o.length;
    if (query === undefined) {
      // EXECUTE / BULK_EXECUTE: the statement id, and its text when its PREPARE was seen
      const prepared = e.value ? s.stmts.get(e.value) : undefined;
      query = prepared ?? `<statement ${o.stmtId}>`;
      length = prepared === undefined ? 0 : Buffer.byteLength(prepared);
    }
    if (!ok) this.counters.failed++;
    const rec: QueryRecord = {
      type: 'query',
      ts: this.wallClock(o.startNs),
      module: 'mysqld',
      who: o.who,
      db: 'mysqld',
      query,
      length,
      status: mysqlStatus(e.retval, errno, sqlstate, message),
      retval: errno,
      kind,
    };
    if (s.db) rec.database = s.db;
    if (o.truncated) {
      rec.truncated = true;
      this.counters.truncatedQueries++;
    }
    this.counters.records++;
    this.emit(rec);
  }

  /** At close: commands still running are shown without an outcome. */
  flush(): void {
    for (const o of this.open.values()) {
      const kind = KIND[o.cmd];
      if (!kind || o.text === undefined) continue;
      this.counters.records++;
      this.emit({ type: 'query', ts: this.wallClock(o.startNs), module: 'mysqld', who: o.who, db: 'mysqld', query: o.text, length: o.length, status: 'UNKNOWN', kind });
    }
    this.open.clear();
  }
}
