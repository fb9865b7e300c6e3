import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { nativeAddonPath } from '../../util/paths.js';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../../output/pcapng/blocks.js';
import { ether, ipv4Tcp } from '../../output/pcapng/test-helpers.js';
import {
  MAX_KERNEL_INSNS, acceptsAll, cbpfRodata, compileFilter, dltForLinkType, encodeCbpf, parseCbpf, validateCbpf, type CbpfInsn,
} from './cbpf.js';

const haveNative = existsSync(nativeAddonPath);
const nativeMod = async () => (await import('../../bpf/native.js')).native();

const RET = (k: number): CbpfInsn => ({ code: 0x06, jt: 0, jf: 0, k });

test('link types map to libpcap DLTs (raw IP differs)', () => {
  assert.equal(dltForLinkType(LINKTYPE_ETHERNET), 1);
  assert.equal(dltForLinkType(LINKTYPE_RAW), 12);
});

test('parse/encode round trip; bad lengths refused', () => {
  const insns: CbpfInsn[] = [{ code: 0x28, jt: 0, jf: 0, k: 12 }, { code: 0x15, jt: 0, jf: 1, k: 0x800 }, RET(262144), RET(0)];
  const b = encodeCbpf(insns);
  assert.equal(b.length, 32);
  assert.deepEqual(parseCbpf(b), insns);
  assert.throws(() => parseCbpf(Buffer.alloc(7)), RangeError);
  assert.throws(() => parseCbpf(Buffer.alloc(0)), RangeError);
  const r = cbpfRodata(b);
  assert.equal(r.length, MAX_KERNEL_INSNS * 8);
  assert.deepEqual(r.subarray(0, 32), b);
  assert.ok(r.subarray(32).every((x) => x === 0));
});

test('validateCbpf: what bpf_validate refuses', () => {
  assert.equal(validateCbpf([RET(1)]), undefined);
  assert.match(validateCbpf([])!, /empty/);
  assert.match(validateCbpf([{ code: 0x15, jt: 5, jf: 0, k: 0 }, RET(1)])!, /jump out/);
  assert.match(validateCbpf([{ code: 0x05, jt: 0, jf: 0, k: 1 }, RET(1)])!, /jump out/);
  assert.match(validateCbpf([{ code: 0x60, jt: 0, jf: 0, k: 16 }, RET(1)])!, /scratch memory/); // ld M[16]
  assert.match(validateCbpf([{ code: 0x02, jt: 0, jf: 0, k: 99 }, RET(1)])!, /scratch memory/); // st M[99]
  assert.match(validateCbpf([{ code: 0x34, jt: 0, jf: 0, k: 0 }, RET(1)])!, /division by zero/); // div #0
  assert.match(validateCbpf([{ code: 0x28, jt: 0, jf: 0, k: 0 }])!, /return/);
  assert.match(validateCbpf([{ code: 0xf4, jt: 0, jf: 0, k: 0 }, RET(1)])!, /bad ALU/);
  assert.ok(acceptsAll([RET(262144)]));
  assert.ok(!acceptsAll([RET(0)]));
});

test('compileFilter: placement and errors (fake compiler)', () => {
  const prog = encodeCbpf([{ code: 0x28, jt: 0, jf: 0, k: 12 }, { code: 0x15, jt: 0, jf: 1, k: 0x800 }, RET(65535), RET(0)]);
  const env = { compile: () => prog, haveBpfLoop: true };
  assert.equal(compileFilter('  ', 1, 65535, env), undefined, 'empty expression: no filter');
  assert.equal(compileFilter('ip', 1, 65535, env)!.placement, 'kernel');
  assert.equal(compileFilter('ip', 1, 65535, { ...env, haveBpfLoop: false })!.placement, 'user');
  assert.equal(compileFilter('ip', 1, 65535, { ...env, force: 'user' })!.placement, 'user');
  assert.equal(compileFilter('', 1, 65535, env), undefined);
  assert.equal(compileFilter('x', 1, 65535, { ...env, compile: () => encodeCbpf([RET(65535)]) })!.placement, 'none');
  const long = encodeCbpf([...Array.from({ length: MAX_KERNEL_INSNS }, () => ({ code: 0x00, jt: 0, jf: 0, k: 1 })), RET(1)]);
  assert.equal(compileFilter('x', 1, 65535, { ...env, compile: () => long })!.placement, 'user');
  let seen: number[] = [];
  compileFilter('ip', LINKTYPE_RAW, 1234, { ...env, compile: (_e, dlt, s) => ((seen = [dlt, s]), prog) });
  assert.deepEqual(seen, [12, 1234], 'compiled for DLT_RAW');
  const err = (() => {
    try {
      compileFilter('tcp port', 1, 65535, { ...env, compile: () => { throw new Error("compile pcap filter 'tcp port': syntax error"); } });
    } catch (e) {
      return e as Error & { code?: string; hint?: string };
    }
    return undefined;
  })();
  assert.ok(err);
  assert.equal(err.code, 'ECAP_CONFIG');
  assert.match(err.message, /pcap filter "tcp port": syntax error/);
  assert.match(err.hint!, /pcap-filter/);
});

test('libpcap programs pass validation; the userspace placement filters like tcpdump would', { skip: !haveNative && 'native addon not built' }, async () => {
  const n = await nativeMod();
  for (const expr of ['tcp port 443', 'udp or icmp', 'host 10.1.2.3 and not port 22', 'tcp[tcpflags] & (tcp-syn|tcp-fin) != 0', 'ip6 and tcp', 'len > 100', 'vlan and tcp']) {
    const f = compileFilter(expr, LINKTYPE_ETHERNET, 65535, { compile: (e, d, s) => n.pcapCompile(e, d, s), haveBpfLoop: true })!;
    assert.equal(validateCbpf(parseCbpf(f.program)), undefined, expr);
    assert.equal(f.placement, 'kernel', expr);
  }
  const f = compileFilter('tcp port 443', LINKTYPE_ETHERNET, 65535, { compile: (e, d, s) => n.pcapCompile(e, d, s), haveBpfLoop: true })!;
  const hit = ether(ipv4Tcp('10.0.0.1', 50000, '10.0.0.2', 443, Buffer.from('x')));
  const miss = ether(ipv4Tcp('10.0.0.1', 50000, '10.0.0.2', 80, Buffer.from('x')));
  assert.ok(n.pcapFilter(f.program, hit, hit.length) > 0);
  assert.equal(n.pcapFilter(f.program, miss, miss.length), 0);
  assert.throws(() => compileFilter('tcp port', LINKTYPE_ETHERNET, 65535, { compile: (e, d, s) => n.pcapCompile(e, d, s), haveBpfLoop: true }), /syntax error/);
  const raw = compileFilter('tcp port 443', LINKTYPE_RAW, 65535, { compile: (e, d, s) => n.pcapCompile(e, d, s), haveBpfLoop: true })!;
  const rawHit = ipv4Tcp('10.0.0.1', 50000, '10.0.0.2', 443, Buffer.from('x'));
  assert.ok(n.pcapFilter(raw.program, rawHit, rawHit.length) > 0, 'raw-IP program reads IP at offset 0');
});
