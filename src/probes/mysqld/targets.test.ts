import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dispatchLayout, isDispatchSymbol, pickSetErrorStatus, planMysqld, serverVersion } from './targets.js';

// mangled names as the compilers produce them for each server's dispatch_command
const MARIADB_10_11 = '_Z16dispatch_command19enum_server_commandP3THDPcjb'; // (enum_server_command, THD*, char*, unsigned, bool)
const MYSQL_5_6 = '_Z16dispatch_command19enum_server_commandP3THDPcj'; // (enum_server_command, THD*, char*, unsigned)
const MYSQL_5_7 = '_Z16dispatch_commandP3THDPK8COM_DATA19enum_server_command'; // (THD*, const COM_DATA*, enum_server_command)
const MYSQL_8_0 = '_Z16dispatch_commandP3THDPK8COM_DATA19enum_server_command';

test('dispatch_command signature from the mangled name', () => {
  assert.equal(dispatchLayout(MARIADB_10_11), 'mysql56');
  assert.equal(dispatchLayout(MYSQL_5_6), 'mysql56');
  assert.equal(dispatchLayout(MYSQL_5_7), 'mysql57');
  assert.equal(dispatchLayout(MYSQL_8_0), 'mysql57');
  assert.equal(dispatchLayout(''), 'mysql56', 'unknown (an --offset without a symbol): eCapture\'s default');
});

test('dispatch_command symbols are recognised, look-alikes are not', () => {
  for (const n of [MARIADB_10_11, MYSQL_5_6, MYSQL_5_7, 'dispatch_command']) assert.ok(isDispatchSymbol(n), n);
  for (const n of ['_Z10do_commandP3THDb', '_ZN5Event26dispatch_command_hookEv', 'my_dispatch_command_stats', '_Z16dispatch_command']) {
    assert.ok(!isDispatchSymbol(n), n);
  }
});

test('server version from .rodata strings', () => {
  assert.equal(serverVersion('xx\u000010.11.19-MariaDB\u0000yy'), 'MariaDB 10.11.19');
  assert.equal(serverVersion('mysqld-8.0.36'), 'MySQL 8.0');
  assert.equal(serverVersion('foo mysqld-5.7 bar'), 'MySQL 5.7');
  assert.equal(serverVersion('nothing here'), 'unknown');
});

test('the full Diagnostics_area::set_error_status overload is chosen', () => {
  const maria = ['_ZN16Diagnostics_area16set_error_statusEj', '_ZN16Diagnostics_area16set_error_statusEjPKcS1_RK27Sql_user_condition_identityPK13Sql_condition'];
  assert.equal(pickSetErrorStatus(maria), maria[1]);
  const mysql8 = ['_ZN16Diagnostics_area16set_error_statusEjPKcS1_', '_ZN16Diagnostics_area16set_error_statusEP3THDj'];
  assert.equal(pickSetErrorStatus(mysql8), mysql8[0]);
  assert.equal(pickSetErrorStatus(['_ZN16Diagnostics_area16set_error_statusEj']), undefined);
});

test('planMysqld on this machine\'s mariadbd', { skip: !existsSync('/usr/sbin/mariadbd') }, () => {
  const p = planMysqld({ mysqld: '/usr/sbin/mariadbd', funcname: '', offset: '0' });
  assert.equal(p.object, 'db/mysqld');
  assert.deepEqual(p.uprobes.map((u) => u.program), ['uprobe_dispatch_command', 'uretprobe_dispatch_command', 'uprobe_set_error_status',
    'uprobe_stmt_insert', 'uprobe_stmt_execute', 'uprobe_stmt_execute']);
  assert.equal(p.uprobes[3]!.cookie, 2, 'Statement_map::insert(this, THD *, Statement *): the statement is argument 2');
  assert.deepEqual(p.warnings, []);
  assert.equal(p.uprobes[0]!.symbol, MARIADB_10_11);
  assert.match(String(p.info.version), /^MariaDB 10\./);
  // the same function named by --funcname (plain name) and by --offset
  const byName = planMysqld({ mysqld: '/usr/sbin/mariadbd', funcname: 'dispatch_command', offset: '0' });
  assert.equal(byName.uprobes[0]!.offset, p.uprobes[0]!.offset);
  const byOffset = planMysqld({ mysqld: '/usr/sbin/mariadbd', funcname: '', offset: `0x${p.uprobes[0]!.offset.toString(16)}` });
  assert.equal(byOffset.uprobes[0]!.symbol, MARIADB_10_11, 'the symbol at the offset names it');
  assert.equal(byOffset.uprobes[0]!.program, 'uprobe_dispatch_command');
  assert.throws(() => planMysqld({ mysqld: '/usr/sbin/mariadbd', funcname: '', offset: '0xffffffffff' }), /outside the loadable segments/);
});
