import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureError } from '../../errors.js';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW, SECRETS_TLS_KEYLOG, linkTypeForArphrd } from './blocks.js';
import { PcapngFormatError, readPcapng, type PcapngBlock } from './reader.js';
import { clientHello, ether, ipv4Tcp } from './test-helpers.js';
import { PcapngWriter } from './writer.js';

function tmp(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'pcapng-'));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}
const kinds = (bs: PcapngBlock[]): string => bs.map((b) => b.type).join(',');
const T0 = 1_790_000_000_123_456_789n;

test('blocks read back: SHB, IDBs (link type, name, filter, tsresol 9), EPBs (ts, lengths, comment, flags), DSB, ISB', () => {
  const { dir, done } = tmp();
  try {
    const path = join(dir, 'a.pcapng');
    const w = new PcapngWriter({ path, flushIntervalMs: 0, shb: { userAppl: 'test-app' } });
    const lo = w.addInterface({ name: 'lo', description: 'loopback', linkType: LINKTYPE_ETHERNET, filter: 'tcp port 443', ifIndex: 1 });
    const tun = w.addInterface({ name: 'tun0', linkType: LINKTYPE_RAW, snaplen: 65535, ifIndex: 9 });
    assert.deepEqual([lo, tun, w.interfaceIdForIndex(9)], [0, 1, 1]);
    const p1 = ether(ipv4Tcp('127.0.0.1', 40000, '127.0.0.1', 8080, Buffer.from('GET / HTTP/1.1\r\n\r\n')));
    w.addPacket({ interfaceId: lo, tsNs: T0, data: p1, pid: 4242, comm: 'curl', direction: 'outbound' });
    w.addSecrets(['CLIENT_RANDOM ' + 'ab'.repeat(32) + ' ' + 'cd'.repeat(48)]);
    const p2 = ipv4Tcp('10.0.0.2', 80, '10.0.0.1', 40001, Buffer.from('abc'));
    w.addPacket({ interfaceId: tun, tsNs: T0 + 1n, data: p2, origLen: 1500, direction: 'inbound' });
    w.setInterfaceStats(lo, { ifRecv: 10n, ifDrop: 2n });
    w.close();
    w.close(); // idempotent
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const bs = readPcapng(readFileSync(path));
    assert.equal(kinds(bs), 'shb,idb,idb,epb,dsb,epb,isb');
    const [shb, i0, i1, e1, dsb, e2, isb] = bs as [any, any, any, any, any, any, any];
    assert.deepEqual([shb.major, shb.minor, shb.sectionLength, shb.userAppl], [1, 0, -1n, 'test-app']);
    assert.match(shb.os, /^Linux /);
    assert.deepEqual([i0.linkType, i0.name, i0.description, i0.filter, i0.tsresol], [1, 'lo', 'loopback', 'tcp port 443', 9]);
    assert.deepEqual([i1.linkType, i1.name, i1.snaplen, i1.filter], [101, 'tun0', 65535, undefined]);
    assert.deepEqual([e1.interfaceId, e1.tsNs, e1.capturedLen, e1.origLen, e1.comment, e1.flags], [0, T0, p1.length, p1.length, 'pid=4242 comm=curl', 2]);
    assert.deepEqual(e1.data, p1);
    assert.deepEqual([e2.interfaceId, e2.capturedLen, e2.origLen, e2.comment, e2.flags], [1, 3 + 40, 1500, undefined, 1]);
    assert.equal(dsb.secretsType, SECRETS_TLS_KEYLOG);
    assert.equal(dsb.secrets.toString(), `CLIENT_RANDOM ${'ab'.repeat(32)} ${'cd'.repeat(48)}\n`);
    assert.deepEqual([isb.interfaceId, isb.ifRecv, isb.ifDrop], [0, 10n, 2n]);
    assert.equal(w.stats.packets, 2);
    assert.equal(w.stats.secretsBlocks, 1);
    assert.throws(() => w.addPacket({ interfaceId: 0, tsNs: T0, data: p1 }), CaptureError);
  } finally {
    done();
  }
});

test('reader rejects broken framing', () => {
  const { dir, done } = tmp();
  try {
    const path = join(dir, 'b.pcapng');
    const w = new PcapngWriter({ path, flushIntervalMs: 0 });
    w.addInterface({ linkType: 1 });
    w.close();
    const good = readFileSync(path);
    assert.equal(kinds(readPcapng(good)), 'shb,idb');
    const bad = Buffer.from(good);
    bad.writeUInt32LE(0x1234, bad.length - 4);
    assert.throws(() => readPcapng(bad), PcapngFormatError);
    assert.throws(() => readPcapng(good.subarray(0, good.length - 2)), PcapngFormatError);
    assert.throws(() => readPcapng(good.subarray(good.readUInt32LE(4))), /Section Header/);
  } finally {
    done();
  }
});

test('secret file safety: symlink refused, hard link refused, exclusive, existing file truncated and tightened', () => {
  const { dir, done } = tmp();
  try {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'keep me');
    symlinkSync(victim, join(dir, 'sym.pcapng'));
    assert.throws(() => new PcapngWriter({ path: join(dir, 'sym.pcapng') }), /symbolic link; refusing to follow it/);
    linkSync(victim, join(dir, 'hard.pcapng'));
    assert.throws(() => new PcapngWriter({ path: join(dir, 'hard.pcapng') }), /hard links/);
    assert.equal(readFileSync(victim, 'utf8'), 'keep me');
    const old = join(dir, 'old.pcapng');
    writeFileSync(old, 'x'.repeat(1000), { mode: 0o644 });
    assert.throws(() => new PcapngWriter({ path: old, exclusive: true }), /already exists/);
    new PcapngWriter({ path: old, flushIntervalMs: 0 }).close();
    assert.equal(kinds(readPcapng(readFileSync(old))), 'shb');
    assert.equal(statSync(old).mode & 0o777, 0o600);
  } finally {
    done();
  }
});

test('ordering: packets of a TLS flow are held from its ClientHello until its keys, then follow the DSB', () => {
  const { dir, done } = tmp();
  try {
    let now = 0;
    const path = join(dir, 'o.pcapng');
    const w = new PcapngWriter({ path, flushIntervalMs: 0, keyWaitMs: 1000, now: () => now });
    const i = w.addInterface({ linkType: LINKTYPE_ETHERNET });
    const cr = Buffer.alloc(32, 0x11);
    const c2s = (p: Buffer, seq: number) => ether(ipv4Tcp('127.0.0.1', 50000, '127.0.0.1', 443, p, seq));
    const s2c = (p: Buffer, seq: number) => ether(ipv4Tcp('127.0.0.1', 443, '127.0.0.1', 50000, p, seq));
    const other = ether(ipv4Tcp('127.0.0.1', 50001, '127.0.0.1', 80, Buffer.from('plain')));
    w.addPacket({ interfaceId: i, tsNs: 1n, data: c2s(Buffer.alloc(0), 1) }); // before the hello: passes
    w.addPacket({ interfaceId: i, tsNs: 2n, data: c2s(clientHello(cr), 2) }); // held from here
    w.addPacket({ interfaceId: i, tsNs: 3n, data: s2c(Buffer.from([0x16, 3, 3, 0, 1, 2]), 3) }); // held (same flow, reverse)
    w.addPacket({ interfaceId: i, tsNs: 4n, data: other }); // other flow passes
    assert.equal(w.stats.heldPackets, 2);
    w.addSecrets(`CLIENT_HANDSHAKE_TRAFFIC_SECRET ${cr.toString('hex')} ${'22'.repeat(32)}\n`);
    assert.equal(w.stats.heldPackets, 2, 'handshake secrets alone do not release');
    w.addPacket({ interfaceId: i, tsNs: 5n, data: c2s(Buffer.from([0x17, 3, 3, 0, 1, 9]), 4) }); // still held, in order
    w.addSecrets([`CLIENT_TRAFFIC_SECRET_0 ${cr.toString('hex')} ${'33'.repeat(32)}`, `SERVER_TRAFFIC_SECRET_0 ${cr.toString('hex')} ${'44'.repeat(32)}`]);
    assert.equal(w.stats.heldPackets, 0);
    w.addPacket({ interfaceId: i, tsNs: 6n, data: c2s(Buffer.from([0x17, 3, 3, 0, 1, 8]), 5) }); // keyed: passes
    w.close();
    const bs = readPcapng(readFileSync(path));
    const seq = bs.filter((b) => b.type !== 'shb' && b.type !== 'idb').map((b) => (b.type === 'epb' ? `p${b.tsNs}` : b.type));
    assert.deepEqual(seq, ['p1', 'p4', 'dsb', 'dsb', 'p2', 'p3', 'p5', 'p6']);
    assert.equal(w.stats.releasedWithoutKeys, 0);
  } finally {
    done();
  }
});

test('ordering: holding is bounded by keyWaitMs and maxHeldBytes; close releases the rest', () => {
  const { dir, done } = tmp();
  try {
    let now = 0;
    const path = join(dir, 'h.pcapng');
    const w = new PcapngWriter({ path, flushIntervalMs: 0, keyWaitMs: 1000, maxHeldBytes: 500, now: () => now });
    const i = w.addInterface({ linkType: LINKTYPE_ETHERNET });
    const flow = (port: number, p: Buffer) => ether(ipv4Tcp('127.0.0.1', port, '127.0.0.1', 443, p));
    w.addPacket({ interfaceId: i, tsNs: 1n, data: flow(1, clientHello(Buffer.alloc(32, 1))) });
    now = 999;
    w.tick();
    assert.equal(w.stats.heldPackets, 1);
    now = 1000;
    w.tick();
    assert.equal(w.stats.heldPackets, 0);
    assert.equal(w.stats.releasedWithoutKeys, 1);
    w.addPacket({ interfaceId: i, tsNs: 2n, data: flow(1, Buffer.from('after giving up')) }); // passes
    assert.equal(w.stats.heldPackets, 0);
    w.addPacket({ interfaceId: i, tsNs: 3n, data: flow(2, clientHello(Buffer.alloc(32, 2))) });
    w.addPacket({ interfaceId: i, tsNs: 4n, data: flow(3, clientHello(Buffer.alloc(32, 3))) });
    w.addPacket({ interfaceId: i, tsNs: 5n, data: flow(3, Buffer.alloc(200)) }); // over 500 bytes: flow 2 released
    assert.equal(w.stats.heldPackets, 2);
    w.close(); // releases flow 3
    const eps = readPcapng(readFileSync(path)).filter((b) => b.type === 'epb');
    assert.deepEqual(eps.map((b) => (b as { tsNs: bigint }).tsNs), [1n, 2n, 3n, 4n, 5n]);
    assert.equal(w.stats.releasedWithoutKeys, 4);
  } finally {
    done();
  }
});

test('linkTypeForArphrd', () => {
  assert.equal(linkTypeForArphrd(1), LINKTYPE_ETHERNET);
  assert.equal(linkTypeForArphrd(772), LINKTYPE_ETHERNET);
  assert.equal(linkTypeForArphrd(65534), LINKTYPE_RAW);
  assert.equal(linkTypeForArphrd(824), undefined);
});
