/**
 * GnuTLS version detection, the offsets table, the accessor decoders and the key log hook locator — on
 * crafted bytes and, where installed, on the system's libgnutls (checked against objdump's view of it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ElfFile } from '../../elf/elf-file.js';
import { GnutlsLayoutLayout } from '../../gen/events.js';
import {
  chooseLayout,
  compareVersions,
  decodeCommonOffsets,
  encodeLayout,
  findKeylogHook,
  GNUTLS_LAYOUT_FIELDS,
  gnutlsVersion,
  layoutFromTable,
  offsetsTable,
  parseVersion,
  x86PointerField,
  x86RdiAddend,
} from './layout.js';

const LIB = '/usr/lib/x86_64-linux-gnu/libgnutls.so.30';
const haveLib = existsSync(LIB) && process.arch === 'x64';
const haveObjdump = spawnSync('sh', ['-c', 'command -v objdump']).status === 0;

test('versions parse and compare numerically', () => {
  assert.deepEqual(parseVersion('3.7.9'), [3, 7, 9]);
  assert.deepEqual(parseVersion('3.8'), [3, 8, 0]);
  assert.equal(parseVersion('3.x'), undefined);
  assert.equal(parseVersion(''), undefined);
  assert.ok(compareVersions([3, 7, 10], [3, 7, 9]) > 0);
  assert.ok(compareVersions([3, 6, 16], [3, 7, 0]) < 0);
  assert.equal(compareVersions([3, 8, 4], [3, 8, 4]), 0);
});

test('eCapture version map: every listed version picks its layout; outside the ranges the newest of the series', () => {
  const cases: [string, string, boolean][] = [
    ['3.6.12', '3_6_12', true],
    ['3.6.13', '3_6_13', true],
    ['3.6.16', '3_6_13', true],
    ['3.7.0', '3_7_0', true],
    ['3.7.2', '3_7_0', true],
    ['3.7.3', '3_7_3', true],
    ['3.7.6', '3_7_3', true],
    ['3.7.7', '3_7_7', true],
    ['3.7.9', '3_7_7', true], // Debian 12
    ['3.7.11', '3_7_7', true],
    ['3.8.0', '3_7_7', true],
    ['3.8.3', '3_7_7', true],
    ['3.8.4', '3_8_4', true],
    ['3.8.6', '3_8_4', true],
    ['3.8.7', '3_8_7', true],
    ['3.8.9', '3_8_7', true],
    ['3.8.10', '3_8_7', false],
    ['3.7.12', '3_7_7', false],
    ['3.6.17', '3_6_13', false],
  ];
  for (const [v, name, exact] of cases) assert.deepEqual(chooseLayout(v), { name, exact }, v);
  for (const v of ['3.5.19', '3.6.11', '4.0.0', 'garbage']) assert.equal(chooseLayout(v), undefined, v);
});

test('the table: every layout has every member, offsets are sane and TLS 1.3 secrets 64 bytes apart', () => {
  const t = offsetsTable();
  for (const name of Object.keys(t.layouts)) {
    const l = layoutFromTable(name)!;
    for (const f of GNUTLS_LAYOUT_FIELDS) assert.ok(Number.isInteger(l[f]) && l[f] > 0 && l[f] < 0x4000, `${name}.${f}`);
    const secrets = [l.e_ckey, l.hs_ckey, l.hs_skey, l.ap_ckey, l.ap_skey, l.ap_expkey];
    for (let i = 1; i < secrets.length; i++) assert.equal(secrets[i]! - secrets[i - 1]!, 0x40, `${name}: 64-byte secrets in a row`);
  }
  assert.equal(layoutFromTable('nope'), undefined);
});

test('encodeLayout writes every member at the generated offset of struct gnutls_layout', () => {
  const vals = Object.fromEntries(GNUTLS_LAYOUT_FIELDS.map((f, i) => [f, 0x100 + i])) as Record<(typeof GNUTLS_LAYOUT_FIELDS)[number], number>;
  const b = encodeLayout(vals);
  assert.equal(b.length, GnutlsLayoutLayout.SIZE);
  for (const f of GnutlsLayoutLayout.fields) assert.equal(b.readUInt32LE(f.offset), vals[f.name as keyof typeof vals], f.name);
  assert.deepEqual(GnutlsLayoutLayout.fields.map((f) => f.name), [...GNUTLS_LAYOUT_FIELDS], 'same members, same order');
  assert.equal(encodeLayout({}).readUInt32LE(0), 0, 'absent = 0 (unknown)');
});

test('x86 decoders: lea/add on rdi, pointer member then field', () => {
  // gnutls_session_get_random: test %rsi,%rsi; je; lea 0x50(%rdi),%rax; ...
  assert.equal(x86RdiAddend(Buffer.from('4885f6740e488d4750c7460820000000', 'hex'), 'lea'), 0x50);
  assert.equal(x86RdiAddend(Buffer.from('488d8700010000c3', 'hex'), 'lea'), 0x100);
  // gnutls_session_get_master_secret: add $0x20,%rdi
  assert.equal(x86RdiAddend(Buffer.from('4883c720c7460830000000', 'hex'), 'lea-or-add'), 0x20);
  assert.equal(x86RdiAddend(Buffer.from('4883c720c3', 'hex'), 'lea'), undefined, 'add is not accepted where only lea is');
  assert.equal(x86RdiAddend(Buffer.from('c3', 'hex'), 'lea-or-add'), undefined);
  // gnutls_protocol_get_version: mov 0xf8(%rdi),%rax; test; je; mov 0x8(%rax),%eax
  assert.deepEqual(x86PointerField(Buffer.from('488b87f80000004885c074048b4008c3', 'hex')), [0xf8, 0x8]);
  // gnutls_prf_hash_get: sub $8,%rsp; mov 0x18(%rdi),%rax; test; je; mov 0x18(%rax),%eax
  assert.deepEqual(x86PointerField(Buffer.from('4883ec08488b47184885c074238b4018', 'hex')), [0x18, 0x18]);
  assert.equal(x86PointerField(Buffer.from('488b4718c3', 'hex')), undefined, 'no field read through it');
});

test('system libgnutls: version, accessor offsets and the key log hook', { skip: !haveLib }, () => {
  const elf = ElfFile.open(LIB);
  try {
    const v = gnutlsVersion(elf);
    assert.ok(v && v.exact && parseVersion(v.version), `version from .rodata (${JSON.stringify(v)})`);
    const d = decodeCommonOffsets(elf);
    const common = offsetsTable().common;
    for (const [k, val] of Object.entries(common)) assert.equal(d[k as keyof typeof d], Number(val), `${k} decoded = table`);
    const h = findKeylogHook(elf);
    assert.equal(h.why, undefined, `hook found (${h.why})`);
    assert.ok(h.offset && h.member);
    // the hook loads session->internals.keylog_func and calls through it, near its start
    const code = elf.read(h.offset!, 64);
    const disp = Buffer.alloc(4);
    disp.writeUInt32LE(h.member!);
    const at = code.indexOf(disp);
    assert.ok(at > 0 && at < 40, 'loads the member at the start');
    assert.ok(code.indexOf(Buffer.from([0x41, 0xff])) > at || code.indexOf(Buffer.from([0xff, 0xd0])) > at, 'indirect call after the load');
  } finally {
    elf.close();
  }
});

test('system libgnutls: the hook is an entry objdump shows as a call target of several places', { skip: !haveLib || !haveObjdump }, () => {
  const elf = ElfFile.open(LIB);
  const h = findKeylogHook(elf);
  const vaddr = elf.offsetToVaddr(h.offset!)!;
  elf.close();
  const r = spawnSync('objdump', ['-d', '--no-show-raw-insn', LIB], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const calls = r.stdout.split('\n').filter((l) => new RegExp(`\\bcall\\s+${vaddr.toString(16)}\\b`).test(l));
  assert.ok(calls.length >= 3, `called from the TLS 1.2 and 1.3 key schedule (${calls.length} call sites)`);
});

test('files without the hook say why', () => {
  const elf = ElfFile.open('/bin/true');
  try {
    const h = findKeylogHook(elf);
    assert.equal(h.offset, undefined);
    assert.match(h.why ?? '', /gnutls_session_get_keylog_function/);
    assert.deepEqual(decodeCommonOffsets(elf), {});
    assert.equal(gnutlsVersion(elf)?.exact ?? false, false);
  } finally {
    elf.close();
  }
});

test('version fallback: without the version string, the newest GNUTLS_x_y_z node it defines (a lower bound)', { skip: !haveLib }, () => {
  const d = mkdtempSync(join(tmpdir(), 'gnutls-ver-'));
  try {
    // a copy whose .rodata no longer names the version
    const b = readFileSync(LIB);
    for (const needle of ['Enabled GnuTLS ', 'GnuTLS 3.']) {
      for (let i = b.indexOf(needle); i >= 0; i = b.indexOf(needle, i + 1)) b.write('GnuTXS', i + needle.indexOf('GnuTLS'), 'latin1');
    }
    const copy = join(d, 'libgnutls.so.30');
    writeFileSync(copy, b);
    const elf = ElfFile.open(copy);
    try {
      const v = gnutlsVersion(elf);
      assert.ok(v && !v.exact, JSON.stringify(v));
      const real = ElfFile.open(LIB);
      try {
        assert.ok(compareVersions(parseVersion(v.version)!, parseVersion(gnutlsVersion(real)!.version)!) <= 0, 'never above the real version');
      } finally {
        real.close();
      }
      assert.ok(findKeylogHook(elf).offset, 'the key log hook does not need the version');
    } finally {
      elf.close();
    }
    const wget = '/usr/bin/wget';
    if (existsSync(wget)) {
      const e = ElfFile.open(wget);
      try {
        assert.equal(gnutlsVersion(e), undefined, 'versions of imported symbols do not count');
      } finally {
        e.close();
      }
    }
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
