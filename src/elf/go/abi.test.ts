import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { goFixture, goSkipReason } from '../../../test/fixtures/go/build.js';
import { objdump } from '../../../test/fixtures/go/objdump.js';
import {
  abiTable,
  AMD64_ARG_PT_REGS_OFFSETS,
  AMD64_ARG_REGS,
  AMD64_PT_REGS_FIELDS,
  amd64PtRegsOffset,
  ARM64_ARG_PT_REGS_OFFSETS,
  goAbi,
  MIN_GO_VERSION,
} from './abi.js';
import { GO_TLS_ARGS } from './offsets.js';

const v = (minor: number, major = 1) => ({ major, minor, patch: 0 });

test('goAbi: register ABI from Go 1.17 on amd64 (eCapture says 1.18), from 1.18 on arm64/ppc64/riscv64', () => {
  assert.equal(goAbi(v(16), 'amd64'), 'stack');
  assert.equal(goAbi(v(17), 'amd64'), 'register');
  assert.equal(goAbi(v(23), 'amd64'), 'register');
  for (const arch of ['arm64', 'ppc64', 'ppc64le', 'riscv64']) {
    assert.equal(goAbi(v(17), arch), 'stack', arch);
    assert.equal(goAbi(v(18), arch), 'register', arch);
  }
  assert.equal(goAbi(v(21), '386'), 'stack');
  assert.equal(goAbi(v(0, 2), 'amd64'), 'register');
  assert.deepEqual(MIN_GO_VERSION, { major: 1, minor: 17, patch: 0 });
});

test('argument register tables as struct pt_regs byte offsets', () => {
  assert.deepEqual([...AMD64_ARG_REGS], ['rax', 'rbx', 'rcx', 'rdi', 'rsi', 'r8', 'r9', 'r10', 'r11']);
  assert.deepEqual([...AMD64_ARG_PT_REGS_OFFSETS], [80, 40, 88, 112, 104, 72, 64, 56, 48]);
  assert.equal(amd64PtRegsOffset('rsp'), 152);
  assert.equal(amd64PtRegsOffset('rip'), 128);
  assert.deepEqual(ARM64_ARG_PT_REGS_OFFSETS.slice(0, 3), [0, 8, 16]);
  assert.equal(ARM64_ARG_PT_REGS_OFFSETS.length, 16);
  const reg = abiTable('register', 'amd64');
  assert.equal(reg.argRegOffsets[GO_TLS_ARGS.writeRecordLocked.dataLen - 1], 112, 'write len in RDI');
  assert.equal(reg.argRegOffsets[GO_TLS_ARGS.writeKeyLog.secretLen - 1], 56, 'keylog secret len in R10');
  assert.deepEqual(abiTable('stack', 'arm64').argRegOffsets, []);
  assert.equal(abiTable('stack', 'arm64').spOffset, 248);
});

test('x86-64 pt_regs field order matches the installed kernel header', { skip: !existsSync('/usr/include/x86_64-linux-gnu/asm/ptrace.h') && 'no linux-libc-dev header' }, () => {
  const h = readFileSync('/usr/include/x86_64-linux-gnu/asm/ptrace.h', 'utf8');
  const body = h.slice(h.lastIndexOf('struct pt_regs {'));
  const fields = [...body.slice(0, body.indexOf('};')).matchAll(/unsigned long (\w+);/g)].map((m) => m[1]);
  assert.deepEqual(fields, [...AMD64_PT_REGS_FIELDS]);
});

test('Go amd64 (*Conn).Read spills its register arguments to the stack words the read probe uses', { skip: goSkipReason() }, async () => {
  const bin = await goFixture('tlsclient', 'normal');
  const [read] = objdump(bin, '^crypto/tls\\.\\(\\*Conn\\)\\.Read$');
  const text = read!.insns.map((i) => i.text);
  const frame = parseInt(/^SUBQ \$0x([0-9a-f]+), SP$/.exec(text.find((x) => x.startsWith('SUBQ $'))!)![1]!, 16);
  const slot = (reg: string): number => {
    const m = text.map((x) => new RegExp(`^MOVQ ${reg}, 0x([0-9a-f]+)\\(SP\\)$`).exec(x)).find(Boolean);
    assert.ok(m, `${reg} is spilled`);
    return (parseInt(m[1]!, 16) - frame) / 8; // word N is at entry SP + 8·N
  };
  assert.equal(slot('AX'), GO_TLS_ARGS.read.conn);
  assert.equal(slot('BX'), GO_TLS_ARGS.read.bufPtr);
  assert.equal(slot('CX'), GO_TLS_ARGS.read.bufLen);
});
