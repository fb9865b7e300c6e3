import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { availablePairs, goFixture, goSkipReason, goToolchain } from '../../../test/fixtures/go/build.js';
import { objdump } from '../../../test/fixtures/go/objdump.js';
import { synthElf } from '../../../test/fixtures/go/synth-elf.js';
import { CaptureError } from '../../errors.js';
import { withElf } from '../elf-file.js';
import { GOTLS_READ_SYMBOL, GOTLS_WRITE_SYMBOL, planGoTls } from './plan.js';

const dir = mkdtempSync(join(tmpdir(), 'ecap-plan-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A Go ≥1.18-style .go.buildinfo holding `version` (inline, varint-prefixed strings). */
function buildinfoElf(name: string, version: string, machine = 62): string {
  const mod = 'path\tx\nbuild\tGOARCH=amd64\n';
  const bi = Buffer.concat([
    Buffer.from('\xff Go buildinf:', 'latin1'),
    Buffer.from([8, 2]),
    Buffer.alloc(16),
    Buffer.from([version.length]),
    Buffer.from(version),
    Buffer.from([mod.length]),
    Buffer.from(mod),
  ]);
  const p = join(dir, name);
  writeFileSync(p, synthElf([{ name: '.go.buildinfo', data: bi }], { machine }).bytes);
  return p;
}

const expectError = (fn: () => unknown, code: string, message: string | RegExp): void => {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CaptureError, String(e));
    assert.equal(e.code, code);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
};

test('planGoTls: clear errors', () => {
  expectError(() => planGoTls('/bin/ls'), 'ECAP_ELF', 'not a Go binary: /bin/ls has no .go.buildinfo section and no Go version string');
  const old = buildinfoElf('go116', 'go1.16.15');
  expectError(() => planGoTls(old), 'ECAP_ATTACH', `Go 1.16 is too old: ${old} was built by go1.16.15; gotls supports Go ≥ 1.17`);
  const arm32 = buildinfoElf('arm32', 'go1.20.1', 40);
  expectError(() => planGoTls(arm32), 'ECAP_ELF', `${arm32}: unsupported ELF machine 40 (gotls supports x86-64 and arm64)`);
  const noTable = buildinfoElf('go120', 'go1.20.1');
  expectError(() => planGoTls(noTable), 'ECAP_ATTACH_NO_SYMBOL', `function ${GOTLS_WRITE_SYMBOL} not found in ${noTable}: the binary is stripped and has no readable pclntab (is crypto/tls linked in?)`);
  expectError(() => planGoTls(join(dir, 'missing')), 'ECAP_ELF', /^open .*missing: ENOENT/);
});

test('planGoTls: a Go program without crypto/tls', { skip: goSkipReason() }, async () => {
  const hello = await goFixture('hello', 'stripped');
  expectError(() => planGoTls(hello), 'ECAP_ATTACH_NO_SYMBOL', `function ${GOTLS_WRITE_SYMBOL} not found in ${hello}: the binary is stripped and its pclntab has no such function (is crypto/tls linked in?)`);
});

test('planGoTls on every build variant: version, ABI, PIE, stripped, offsets = go tool objdump', { skip: goSkipReason() }, async (t) => {
  const cases = availablePairs((m) => t.diagnostic(m));
  for (const [program, full, stripped] of cases) {
    const bin = await goFixture(program, full);
    // expected RET file offsets from go tool objdump of the unstripped build
    const [read] = objdump(bin, '^crypto/tls\\.\\(\\*Conn\\)\\.Read$');
    const [write] = objdump(bin, '^crypto/tls\\.\\(\\*Conn\\)\\.writeRecordLocked$');
    const [keylog] = objdump(bin, '^crypto/tls\\.\\(\\*Config\\)\\.writeKeyLog$');
    const toFile = (a: number): number => withElf(bin, (elf) => elf.vaddrToOffset(a)!);
    const rets = read!.insns.filter((i) => /^RET\b/.test(i.text)).map((i) => toFile(i.addr));
    assert.ok(rets.length > 0);
    const arm = full.startsWith('arm64');
    for (const [variant, path] of [[full, bin], [stripped, await goFixture(program, stripped)]] as const) {
      const plan = planGoTls(path);
      const what = `${program}-${variant}`;
      assert.equal(plan.goVersion, goToolchain()!.version, what);
      assert.equal(plan.arch, arm ? 'arm64' : 'amd64', what);
      assert.equal(plan.abi, 'register', what);
      assert.equal(plan.pie, variant.startsWith('pie'), what);
      assert.equal(plan.stripped, variant === stripped, what);
      assert.equal(plan.write.symbol, GOTLS_WRITE_SYMBOL);
      assert.equal(plan.readRets.symbol, GOTLS_READ_SYMBOL);
      assert.equal(plan.write.offset, toFile(write!.insns[0]!.addr), what);
      assert.equal(plan.readRets.offset, toFile(read!.insns[0]!.addr), what);
      assert.equal(plan.keylog?.offset, toFile(keylog!.insns[0]!.addr), what);
      assert.deepEqual(plan.readRets.offsets, rets, what);
      assert.equal(plan.readRets.source, variant === stripped ? 'pclntab' : 'symtab');
      // every offset really holds a RET
      withElf(path, (elf) => {
        for (const off of plan.readRets.offsets) {
          const b = elf.read(off, 4);
          if (arm) assert.equal(b.readUInt32LE(0), 0xd65f03c0, `${what} +0x${off.toString(16)}`);
          else assert.equal(b[0], 0xc3, `${what} +0x${off.toString(16)}`);
        }
      });
      const hostArch = process.arch === 'x64' ? 'amd64' : process.arch;
      assert.deepEqual(plan.warnings.filter((w) => !w.includes('uprobes cannot run its code here')), [], what);
      assert.equal(plan.warnings.length, plan.arch === hostArch ? 0 : 1, what);
      t.diagnostic(
        `${what}: ${plan.goVersion} ${plan.arch} ${plan.abi} pie=${plan.pie} stripped=${plan.stripped} write@0x${plan.write.offset.toString(16)} ` +
          `read RETs@${plan.readRets.offsets.map((o) => '0x' + o.toString(16)).join(',')} keylog@0x${plan.keylog!.offset.toString(16)}`,
      );
    }
  }
});
