import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventKind, TextSource } from '../../gen/events.js';
import type { CaptureRecord, QueryRecord } from '../../model/records.js';
import { stringChunks, textSample } from '../bash/test-events.js';
import { PostgresQueries, errorFields, pgStatus } from './queries.js';

const K = EventKind.EVENT_QUERY;
const ERR = Buffer.from('SERROR\0VERROR\0C42P01\0Mrelation "nope" does not exist\0P15\0Fparse_relation.c\0L1392\0RparserOpenTable\0\0');

function pg(): { p: PostgresQueries; out: QueryRecord[] } {
  const out: QueryRecord[] = [];
  return { p: new PostgresQueries((ns) => BigInt(ns), (r: CaptureRecord) => out.push(r as QueryRecord)), out };
}

function stmt(p: PostgresQueries, id: number, text: string, kind: string, retval: number, err = Buffer.alloc(0), pid = 50): void {
  for (const c of stringChunks({ kind: K, source: TextSource.TEXT_PG_QUERY, id, pid, comm: 'postgres', aux: kind.charCodeAt(0) }, text)) p.handle(c);
  p.handle(textSample({ kind: K, source: TextSource.TEXT_PG_END, id, pid, retval, payload: err }));
}

test('ErrorResponse fields and the status line', () => {
  const f = errorFields(ERR);
  assert.equal(f.get('C'), '42P01');
  assert.equal(f.get('M'), 'relation "nope" does not exist');
  assert.equal(pgStatus(1, ERR), 'ERROR 42P01: relation "nope" does not exist');
  assert.equal(pgStatus(0, Buffer.alloc(0)), 'SUCCESS');
  assert.equal(pgStatus(-1, Buffer.alloc(0)), 'UNKNOWN');
  assert.equal(pgStatus(1, Buffer.from('SFATAL\0C57P01\0')), 'FATAL 57P01');
  assert.equal(pgStatus(1, Buffer.alloc(0)), 'ERROR', 'a cut message still says ERROR');
  assert.deepEqual([...errorFields(Buffer.from('Mno terminator'))], [['M', 'no terminator']]);
});

test('statements with session, kinds, status; a 70 KB query is whole', () => {
  const { p, out } = pg();
  p.handle(textSample({ kind: K, source: TextSource.TEXT_PG_CTX, id: 0, pid: 50, payload: Buffer.from('shop\x00alice\x00127.0.0.1\x0054321\x00') }));
  stmt(p, 1, 'select 1', 'Q', 0);
  stmt(p, 2, 'select * from nope', 'Q', 1, ERR);
  const big = `select '${'q'.repeat(70_000)}'`;
  stmt(p, 3, big, 'Q', 0);
  stmt(p, 4, 'select $1', 'P', 0);
  stmt(p, 5, 'select $1', 'B', 0);
  stmt(p, 6, 'select 2', 'Q', 0, Buffer.alloc(0), 51); // another backend, no session known
  assert.deepEqual(out.map((r) => [r.kind, r.status, r.retval, r.database, r.client]), [
    ['simple', 'SUCCESS', 0, 'shop', 'alice@127.0.0.1:54321'],
    ['simple', 'ERROR 42P01: relation "nope" does not exist', 1, 'shop', 'alice@127.0.0.1:54321'],
    ['simple', 'SUCCESS', 0, 'shop', 'alice@127.0.0.1:54321'],
    ['parse', 'SUCCESS', 0, 'shop', 'alice@127.0.0.1:54321'],
    ['execute', 'SUCCESS', 0, 'shop', 'alice@127.0.0.1:54321'],
    ['simple', 'SUCCESS', 0, undefined, undefined],
  ]);
  assert.equal(out[2]!.query, big);
  assert.equal(out[2]!.length, big.length);
  assert.equal(out[2]!.truncated, undefined);
  assert.equal(p.counters.failed, 1);
});

test('unix-socket sessions, unknown outcomes, flush of running statements', () => {
  const { p, out } = pg();
  p.handle(textSample({ kind: K, source: TextSource.TEXT_PG_CTX, id: 0, pid: 50, payload: Buffer.from('db\x00bob\x00[local]\x00\x00') }));
  stmt(p, 1, 'select 1', 'Q', -1);
  for (const c of stringChunks({ kind: K, source: TextSource.TEXT_PG_QUERY, id: 2, pid: 50, aux: 0x51 }, 'select pg_sleep(60)')) p.handle(c);
  p.flush();
  assert.deepEqual(out.map((r) => [r.query, r.status, r.retval, r.client]), [
    ['select 1', 'UNKNOWN', undefined, 'bob@[local]'],
    ['select pg_sleep(60)', 'UNKNOWN', undefined, 'bob@[local]'],
  ]);
});

test('a query the kernel cut (EVF_TRUNCATED) is marked', () => {
  const { p, out } = pg();
  p.handle(textSample({ kind: K, source: TextSource.TEXT_PG_QUERY, id: 1, pid: 50, aux: 0x51, payload: 'select 1', flags: 2 | 8 }));
  p.handle(textSample({ kind: K, source: TextSource.TEXT_PG_END, id: 1, pid: 50, retval: 0 }));
  assert.equal(out[0]!.truncated, true);
  assert.equal(p.counters.truncatedQueries, 1);
});
