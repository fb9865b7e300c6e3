import { test } from 'node:test';
import assert from 'node:assert/strict';
import { callsTo, passThroughCallee } from './x86-wrapper.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const call = (from: number, to: number): string => {
  const b = Buffer.alloc(5);
  b[0] = 0xe8;
  b.writeInt32LE(to - (from + 5), 1);
  return b.toString('hex');
};

test('a wrapper whose prologue leaves the argument registers alone passes them to its first call', () => {
  // Debian 12 libssl.so.3 SSL_read_ex at 0x35500: sub $0x8,%rsp; call 0x352d0
  assert.equal(passThroughCallee(hex('48 83 ec 08 e8 c7 fd ff ff 31 d2'), 0x35500), 0x352d0);
  // endbr64; push %rbp; mov %rsp,%rbp; push %r12; sub $0x100,%rsp; call
  const pro = 'f30f1efa554889e541544881ec00010000';
  const at = 0x1000 + pro.length / 2;
  assert.equal(passThroughCallee(hex(pro + call(at, 0x4000)), 0x1000), 0x4000);
  // backwards call
  assert.equal(passThroughCallee(hex('90' + call(0x2001, 0x100)), 0x2000), 0x100);
});

test('anything else before the call, or no direct call, is not a pass-through', () => {
  // mov %rcx,%r8 (OpenSSL 3.2's SSL_write_ex shifts its arguments): an argument register is written
  assert.equal(passThroughCallee(hex('49 89 c8' + call(0x1003, 0x4000)), 0x1000), undefined);
  // sub $0x18,%rsp; mov %fs:0x28,%rax ... (SSL_read: code before the call)
  assert.equal(passThroughCallee(hex('48 83 ec 18 64 48 8b 04 25 28 00 00 00'), 0x1000), undefined);
  assert.equal(passThroughCallee(hex('e9 00 00 00 00'), 0x1000), undefined, 'a jump is not a call');
  assert.equal(passThroughCallee(hex('ff d0'), 0x1000), undefined, 'indirect call');
  assert.equal(passThroughCallee(hex('48 83 ec 08 e8 c7 fd'), 0x1000), undefined, 'truncated');
  assert.equal(passThroughCallee(Buffer.alloc(0), 0x1000), undefined);
  assert.equal(passThroughCallee(hex('90'.repeat(40)), 0x1000), undefined, 'prologue of nops only');
});

test('callsTo finds a direct call anywhere in the code', () => {
  const code = hex('48 83 ec 18 85 d2 78 2f' + call(0x1008, 0x352d0) + '85 c0');
  assert.equal(callsTo(code, 0x1000, 0x352d0), true);
  assert.equal(callsTo(code, 0x1000, 0x352d1), false);
  assert.equal(callsTo(hex('e8 00 00'), 0x1000, 0x1005), false, 'truncated at the end');
});
