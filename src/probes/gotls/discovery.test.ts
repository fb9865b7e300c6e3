import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { goFixture, goSkipReason } from '../../../test/fixtures/go/build.js';
import { CaptureError } from '../../errors.js';
import { ElfFile } from '../../elf/elf-file.js';
import type { GoTlsTarget } from './discovery.js';

const dir = mkdtempSync(join(tmpdir(), 'ecap-gotls-disc-'));
// the persistent cache of this test run (FileCache reads the variable when first used)
process.env.ECAPTURE_CACHE_DIR = join(dir, 'cache');
const d = await import('./discovery.js');

after(() => rmSync(dir, { recursive: true, force: true }));

const skip = goSkipReason();
const bins: Record<string, string> = {};
before(async () => {
  if (skip) return;
  for (const [p, v] of [['tlsclient', 'normal'], ['tlsclient', 'stripped'], ['tlsclient', 'pie'], ['hello', 'normal']] as const) {
    bins[`${p}-${v}`] = await goFixture(p, v);
  }
});

const expectError = (fn: () => unknown, code: string, message: RegExp, hint?: RegExp): void => {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CaptureError, String(e));
    assert.equal(e.code, code);
    assert.match(e.message, message);
    if (hint) assert.match(e.hint ?? '', hint);
    return true;
  });
};

test('inspectGoFile: the three build variants give the same functions, in the right places', { skip }, () => {
  const ts = ['normal', 'stripped', 'pie'].map((v) => d.inspectGoFile(bins[`tlsclient-${v}`]!));
  for (const t of ts) {
    assert.equal(t.abi, 'register', 'Go 1.19 amd64');
    assert.equal(t.arch, 'amd64');
    assert.ok(t.readRets.length >= 2, 'several RETs in (*Conn).Read');
    assert.ok(t.keylog !== undefined, 'writeKeyLog present');
    assert.ok(t.close !== undefined, '(*Conn).Close present');
    assert.deepEqual(t.argRegOffsets.slice(0, 3), [80, 40, 88]);
    assert.equal(t.spOffset, 152);
    assert.deepEqual(t.warnings, [], 'nothing to warn about (Read spills its arguments where the probes read them)');
    // every probe offset is inside the file and points at code: a RET (0xc3) for the read probes
    const elf = ElfFile.open(t.path);
    try {
      for (const off of t.readRets) assert.equal(elf.read(off, 1)[0], 0xc3, `RET at 0x${off.toString(16)}`);
    } finally {
      elf.close();
    }
  }
  const [normal, stripped, pie] = ts as [GoTlsTarget, GoTlsTarget, GoTlsTarget];
  assert.equal(normal.stripped, false);
  assert.equal(stripped.stripped, true);
  assert.equal(pie.pie, true);
  assert.equal(normal.pie, false);
  // same code, same file layout: stripping does not move .text
  assert.equal(stripped.write, normal.write);
  assert.deepEqual(stripped.readRets, normal.readRets);
  assert.equal(stripped.keylog, normal.keylog);
  assert.equal(stripped.close, normal.close);
  assert.match(d.describeTarget(stripped), /^go1\.\d+(\.\d+)? \(register ABI, stripped\)$/);
  assert.match(d.describeTarget(pie), /\(register ABI, PIE\)$/);
});

test('inspectGoFile: clear errors for what is not a Go TLS program', { skip }, () => {
  expectError(() => d.inspectGoFile('/bin/ls'), 'ECAP_ELF', /not a Go binary: \/bin\/ls/, /Go toolchain/);
  expectError(() => d.inspectGoFile(bins['hello-normal']!), 'ECAP_ATTACH_NO_SYMBOL',
    /function crypto\/tls\.\(\*Conn\)\.writeRecordLocked not found in .*hello-normal: .*is crypto\/tls linked in\?/, /crypto\/tls/);
  expectError(() => d.inspectGoFile(join(dir, 'nope')), 'ECAP_NO_TARGET', /nope: not a Go binary \(.*no such file/i);
  const txt = join(dir, 'script.sh');
  writeFileSync(txt, '#!/bin/sh\necho hi\n');
  expectError(() => d.inspectGoFile(txt), 'ECAP_NO_TARGET', /script\.sh: not a Go binary \(.*not an ELF file/);
});

test('probeGoFile: discovery verdicts, cached per run and across runs', { skip }, () => {
  assert.deepEqual(d.probeGoFile('/bin/ls'), { skip: 'not a Go binary' });
  const hello = d.probeGoFile(bins['hello-normal']!);
  assert.ok('skip' in hello && /writeRecordLocked not found/.test(hello.skip));
  // a copy is another file (another inode): analysed, then found in the persistent cache after a "restart"
  const copy = join(dir, 'client-copy');
  copyFileSync(bins['tlsclient-stripped']!, copy);
  const t = d.probeGoFile(copy, '/app/client');
  assert.ok(!('skip' in t));
  assert.equal(t.displayPath, '/app/client');
  assert.equal(t.path, copy);
  d.saveGoTargetCache();
  d.clearGoTargetCache();
  const again = d.probeGoFile(copy, '/other/name');
  assert.ok(!('skip' in again));
  assert.equal(again.displayPath, '/other/name');
  assert.deepEqual(again.readRets, t.readRets);
  assert.equal(again.write, t.write);
});

test('processGoTarget: this node process is not a Go program; a gone process is skipped', () => {
  const me = d.processGoTarget(process.pid);
  assert.ok('skip' in me);
  assert.deepEqual(d.processGoTarget(4_000_000), { skip: 'process gone' });
});

test('looksLikeGo: only the section table is looked at', { skip }, () => {
  const yes = ElfFile.open(bins['tlsclient-stripped']!);
  const no = ElfFile.open('/bin/ls');
  try {
    assert.equal(d.looksLikeGo(yes), true);
    assert.equal(d.looksLikeGo(no), false);
  } finally {
    yes.close();
    no.close();
  }
});
