import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventKind, TextSource } from '../../gen/events.js';
import type { CaptureRecord, QueryRecord } from '../../model/records.js';
import { stringChunks, textSample } from '../bash/test-events.js';
import { COM, MysqlQueries, mysqlStatus, useDatabase } from './queries.js';

const K = EventKind.EVENT_QUERY;
const THD = 0x7f00aa00;

function q(): { m: MysqlQueries; out: QueryRecord[] } {
  const out: QueryRecord[] = [];
  return { m: new MysqlQueries((ns) => BigInt(ns), (r: CaptureRecord) => out.push(r as QueryRecord)), out };
}

/** end.stmtId: the statement object the kernel reports at the end; `stmt`: the statement id in the packet */
function cmd(m: MysqlQueries, id: number, com: number, text: string | undefined, end: { errno?: number; sqlstate?: string; msg?: string; retval?: number; stmtId?: number }, stmt = 0): void {
  const base = { kind: K, source: TextSource.TEXT_MYSQL_CMD, id, pid: 9, tid: 77, comm: 'mariadbd', session: THD, aux: com, value: stmt };
  if (text === undefined) m.handle(textSample(base));
  else {
    const b = Buffer.from(text);
    // known length: 16 KiB chunks with total_len
    for (let o = 0; o === 0 || o < b.length; o += 16384) {
      const part = b.subarray(o, o + 16384);
      m.handle(textSample({ ...base, totalLen: b.length, chunkOff: o, payload: part, flags: o + 16384 >= b.length ? 2 : 0 }));
    }
  }
  const payload = end.errno ? Buffer.concat([Buffer.from(`${end.sqlstate ?? ''}\0`), Buffer.from(end.msg ?? '')]) : Buffer.alloc(0);
  m.handle(textSample({ kind: K, source: TextSource.TEXT_MYSQL_END, id, pid: 9, tid: 77, session: THD, aux: end.errno ?? 0, retval: end.retval ?? 0, value: end.stmtId ?? 0, payload }));
}

test('a query: text, length, status, thread; a failing one has the SQL error', () => {
  const { m, out } = q();
  cmd(m, 1, COM.QUERY, 'select 1', {});
  cmd(m, 2, COM.QUERY, 'select * from t', { errno: 1146, sqlstate: '42S02', msg: "Table 'd.t' doesn't exist" });
  assert.deepEqual(out.map((r) => [r.query, r.length, r.status, r.retval, r.kind, r.who.tid]), [
    ['select 1', 8, 'SUCCESS', 0, 'query', 77],
    ['select * from t', 15, "ERROR 1146 (42S02): Table 'd.t' doesn't exist", 1146, 'query', 77],
  ]);
});

test('a 100 KB query arrives whole with its length', () => {
  const { m, out } = q();
  const big = `select '${'z'.repeat(100_000)}'`;
  cmd(m, 1, COM.QUERY, big, {});
  assert.equal(out[0]!.query, big);
  assert.equal(out[0]!.length, big.length);
});

test('prepared statements: EXECUTE shows the text PREPAREd on the same connection (by statement object)', () => {
  const { m, out } = q();
  const OBJ = 0x55aa0010;
  cmd(m, 1, COM.STMT_PREPARE, 'select ? * 2', { stmtId: OBJ });
  cmd(m, 2, COM.STMT_EXECUTE, undefined, { stmtId: OBJ }, 1);
  cmd(m, 3, COM.STMT_EXECUTE, undefined, { errno: 1243, sqlstate: 'HY000', msg: 'Unknown prepared statement handler' }, 6);
  cmd(m, 4, COM.STMT_CLOSE, undefined, {}, 1);
  cmd(m, 5, COM.STMT_PREPARE, 'select * from nope', { errno: 1146, sqlstate: '42S02', msg: 'x' });
  cmd(m, 6, COM.STMT_BULK_EXECUTE, undefined, { stmtId: OBJ }, 1);
  assert.deepEqual(out.map((r) => [r.kind, r.query, r.length, r.status]), [
    ['prepare', 'select ? * 2', 12, 'SUCCESS'],
    ['execute', 'select ? * 2', 12, 'SUCCESS'],
    ['execute', '<statement 6>', 0, 'ERROR 1243 (HY000): Unknown prepared statement handler'],
    ['prepare', 'select * from nope', 18, 'ERROR 1146 (42S02): x'],
    ['bulk_execute', 'select ? * 2', 12, 'SUCCESS'],
  ]);
});

test('the database follows COM_INIT_DB and USE; close-connection and unknown outcomes', () => {
  const { m, out } = q();
  cmd(m, 1, COM.INIT_DB, 'shop', {});
  cmd(m, 2, COM.QUERY, 'select 1', {});
  cmd(m, 3, COM.QUERY, 'use `other db`', {});
  cmd(m, 4, COM.QUERY, 'select 2', { retval: 1 });
  assert.deepEqual(out.map((r) => [r.query, r.database, r.status]), [
    ['shop', 'shop', 'SUCCESS'], ['select 1', 'shop', 'SUCCESS'], ['use `other db`', 'other db', 'SUCCESS'], ['select 2', 'other db', 'CLOSE_CONNECTION'],
  ]);
  m.handle(stringChunks({ kind: K, source: TextSource.TEXT_MYSQL_CMD, id: 9, aux: COM.QUERY }, 'select sleep(100)')[0]!);
  m.flush();
  assert.equal(out.at(-1)!.status, 'UNKNOWN');
  assert.equal(m.counters.records, 5);
});

test('useDatabase and mysqlStatus', () => {
  assert.equal(useDatabase('USE shop;'), 'shop');
  assert.equal(useDatabase('  use `a b` '), 'a b');
  assert.equal(useDatabase('select 1; use x'), undefined);
  assert.equal(mysqlStatus(0, 0, '', ''), 'SUCCESS');
  assert.equal(mysqlStatus(0, 1064, '42000', 'You have\nan error'), 'ERROR 1064 (42000): You have an error');
});
