import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { planPostgres, portLayout, postgresMajor } from './targets.js';

test('PostgreSQL major version from PG_VERSION_STR, not from other mentions', () => {
  assert.equal(postgresMajor('PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu, compiled by gcc (Debian 12.2.0-14) 12.2.0, 64-bit'), 15);
  assert.equal(postgresMajor('PostgreSQL 16.2 on aarch64-unknown-linux-gnu, compiled by clang'), 16);
  assert.equal(postgresMajor('PostgreSQL 17beta1 on x86_64-pc-linux-gnu, compiled by gcc'), 17);
  assert.equal(postgresMajor('PostgreSQL 9.6.24 on x86_64-pc-linux-gnu, compiled by gcc'), 9.6);
  assert.equal(postgresMajor('requires PostgreSQL 9.1 or later'), undefined);
});

test('struct Port offsets are known for 12..15 only', () => {
  assert.deepEqual(portLayout(15), { database: 328, user: 336, host: 288, port: 312 });
  assert.deepEqual(portLayout(12), portLayout(15));
  assert.equal(portLayout(16), undefined);
  assert.equal(portLayout(11), undefined);
});

const PG15 = '/usr/lib/postgresql/15/bin/postgres';
test('planPostgres on this machine\'s postgres 15: exported hooks only', { skip: !existsSync(PG15) }, () => {
  const p = planPostgres({ postgres: PG15, funcname: '' });
  assert.deepEqual(p.uprobes.map((u) => u.program), ['uprobe_pg_query', 'uretprobe_pq_getbyte', 'uprobe_pgstat_report_activity', 'uprobe_pq_endmessage', 'uprobe_ready_for_query']);
  assert.equal(p.uprobes[0]!.symbol, 'pg_parse_query');
  assert.equal(p.info.version, 15);
  assert.equal(p.rodata.port_off_database!.readUInt32LE(), 328);
  assert.ok(p.rodata.myprocport_vaddr!.readBigUInt64LE() > 0n);
  assert.deepEqual(p.warnings, []);
  assert.throws(() => planPostgres({ postgres: PG15, funcname: 'exec_simple_query' }), /symbol exec_simple_query not found/);
});
