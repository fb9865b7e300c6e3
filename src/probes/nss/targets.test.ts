/** NSPR target discovery on this machine's files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { ElfFile } from '../../elf/elf-file.js';
import { nsprFinder, nsprVersion } from './targets.js';

const LIB = '/usr/lib/x86_64-linux-gnu/libnspr4.so';
const NSS3 = '/usr/lib/x86_64-linux-gnu/libnss3.so';
const haveLib = existsSync(LIB) && process.arch === 'x64';

test('the system libnspr4 is a target with the I/O functions and its version', { skip: !haveLib }, () => {
  const t = nsprFinder.inspect(LIB);
  assert.ok(t);
  for (const f of ['PR_Write', 'PR_Read', 'PR_Send', 'PR_Recv', 'PR_Writev', 'PR_Close'] as const) assert.ok(t.offsets[f]! > 0, f);
  assert.match(t.info.lib, /^nspr 4\.\d+/);
  const elf = ElfFile.open(LIB);
  try {
    assert.match(nsprVersion(elf) ?? '', /^4\.\d+/);
  } finally {
    elf.close();
  }
  assert.ok(nsprFinder.system().some((s) => s.key === t.key));
});

test('NSS libraries without NSPR folded in are not targets (Debian splits them)', { skip: !existsSync(NSS3) }, () => {
  assert.equal(nsprFinder.inspect(NSS3), undefined);
  assert.equal(nsprFinder.inspect('/bin/true'), undefined);
});

test('an NSS program: libnspr4 found through libnss3/libssl3 when it starts', { skip: !haveLib || !existsSync('/usr/bin/tstclnt') }, () => {
  const ts = nsprFinder.ofNewProgram('/usr/bin/tstclnt');
  assert.ok(ts.some((t) => /libnspr4\.so/.test(t.path)), ts.map((t) => t.path).join(', '));
});
