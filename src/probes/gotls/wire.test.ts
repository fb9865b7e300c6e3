import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GoAbi, GoTargetLayout, decodeGoTarget, decodeGoKeylogEvent, GoKeylogEventLayout, EventKind } from '../../gen/events.js';
import { AMD64_ARG_PT_REGS_OFFSETS, GO_TLS_STRUCT_OFFSETS, abiTable } from '../../elf/go/index.js';
import { encodeGoTarget, goKeylogEntry } from './wire.js';
import { netFdTypeOffsets } from './discovery.js';

const reg = abiTable('register', 'amd64');
const stack = abiTable('stack', 'arm64');

test('go_target: register ABI carries the argument registers, SP offset and struct offsets', () => {
  const b = encodeGoTarget({ abi: 'register', argRegOffsets: [...reg.argRegOffsets], spOffset: reg.spOffset, stackArgBase: 8, structOffsets: GO_TLS_STRUCT_OFFSETS });
  assert.equal(b.length, GoTargetLayout.SIZE);
  const t = decodeGoTarget(b)!;
  assert.equal(t.abi, GoAbi.GO_ABI_REGISTER);
  assert.equal(t.sp, 152, 'rsp in x86-64 struct pt_regs');
  assert.equal(t.stackBase, 8);
  assert.equal(t.nargs, 9);
  assert.deepEqual(t.args, [...AMD64_ARG_PT_REGS_OFFSETS]);
  assert.deepEqual(t.args.slice(0, 4), [80, 40, 88, 112], 'rax, rbx, rcx, rdi');
  assert.equal(t.connConn, 0);
  assert.equal(t.ifaceData, 8);
  assert.equal(t.tcpconnFd, 0);
  assert.equal(t.netfdSysfd, 16);
  assert.equal(t.netfdFamily, 56);
  assert.equal(t.netfdSotype, 64);
});

test('go_target: stack ABI has no registers', () => {
  const t = decodeGoTarget(encodeGoTarget({ abi: 'stack', argRegOffsets: [], spOffset: stack.spOffset, stackArgBase: stack.stackArgBase, structOffsets: GO_TLS_STRUCT_OFFSETS }))!;
  assert.equal(t.abi, GoAbi.GO_ABI_STACK);
  assert.equal(t.nargs, 0);
  assert.deepEqual(t.args, [0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(t.sp, 31 * 8, 'arm64 user_pt_regs.sp');
});

test('netFD family/sotype sit right after poll.FD (56 bytes), 40 and 32 bytes before laddr', () => {
  assert.deepEqual(netFdTypeOffsets(GO_TLS_STRUCT_OFFSETS.netFdLaddr), { family: 56, sotype: 64 });
});

function keyEvent(label: string, cr: Buffer, secret: Buffer, lens: { label?: number; cr?: number; secret?: number } = {}): Buffer {
  const b = Buffer.alloc(GoKeylogEventLayout.SIZE);
  const off = (n: string): number => GoKeylogEventLayout.fields.find((f) => f.name === n)!.offset;
  b.writeUInt32LE(EventKind.EVENT_GO_KEYLOG, 0);
  b.writeUInt32LE(lens.label ?? label.length, off('label_len'));
  b.writeUInt32LE(lens.cr ?? cr.length, off('client_random_len'));
  b.writeUInt32LE(lens.secret ?? secret.length, off('secret_len'));
  b.write(label, off('label'), 'latin1');
  cr.copy(b, off('client_random'));
  secret.copy(b, off('secret'));
  return b;
}

const cr = Buffer.alloc(32, 0xab);

test('go keylog: TLS 1.3 and TLS 1.2 lines verbatim, with the protocol version', () => {
  const s32 = Buffer.alloc(32, 7);
  const e = decodeGoKeylogEvent(keyEvent('CLIENT_TRAFFIC_SECRET_0', cr, s32))!;
  const r = goKeylogEntry(e);
  assert.ok(!('reject' in r));
  assert.equal(r.label, 'CLIENT_TRAFFIC_SECRET_0');
  assert.deepEqual(r.clientRandom, cr);
  assert.deepEqual(r.secret, s32);
  assert.equal(r.tlsVersion, 0x0304);
  const ms = Buffer.alloc(48, 9);
  const r12 = goKeylogEntry(decodeGoKeylogEvent(keyEvent('CLIENT_RANDOM', cr, ms))!);
  assert.ok(!('reject' in r12));
  assert.equal(r12.secret.length, 48);
  assert.equal(r12.tlsVersion, 0x0303);
  // a SHA-384 suite: 48-byte traffic secrets
  const r384 = goKeylogEntry(decodeGoKeylogEvent(keyEvent('SERVER_HANDSHAKE_TRAFFIC_SECRET', cr, Buffer.alloc(48, 1)))!);
  assert.ok(!('reject' in r384) && r384.secret.length === 48);
});

test('go keylog: bad events are rejected with a reason', () => {
  const s = Buffer.alloc(32, 1);
  const cases: [Buffer, RegExp][] = [
    [keyEvent('CLIENT_RANDOM', cr.subarray(0, 16), s), /client random of 16 bytes/],
    [keyEvent('client random', cr, s), /label/],
    [keyEvent('', cr, s), /label/],
    [keyEvent('CLIENT_RANDOM', cr, s, { label: 60 }), /label/],
    [keyEvent('CLIENT_RANDOM', cr, Buffer.alloc(0)), /secret of 0 bytes/],
    [keyEvent('CLIENT_RANDOM', cr, s, { secret: 100 }), /secret of 100 bytes/],
    [keyEvent('CLIENT_RANDOM', cr, Buffer.alloc(48)), /all-zero/],
  ];
  for (const [b, re] of cases) {
    const r = goKeylogEntry(decodeGoKeylogEvent(b)!);
    assert.ok('reject' in r, `rejected: ${re}`);
    assert.match(r.reject, re);
  }
});

test('go keylog: a short sample does not decode', () => {
  assert.equal(decodeGoKeylogEvent(Buffer.alloc(100)), undefined);
});
