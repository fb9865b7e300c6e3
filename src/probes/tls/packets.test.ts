import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventHdrLayout, EventKind, PacketEventLayout, PktFlags } from '../../gen/events.js';
import { createLogger } from '../../log.js';
import { LINKTYPE_ETHERNET } from '../../output/pcapng/blocks.js';
import { readPcapng } from '../../output/pcapng/reader.js';
import { ether, ipv4Tcp } from '../../output/pcapng/test-helpers.js';
import { PcapngWriter } from '../../output/pcapng/writer.js';
import { nativeAddonPath } from '../../util/paths.js';
import type { CompiledFilter } from './cbpf.js';
import type { NetInterface } from './iface.js';
import { PacketCapture } from './packets.js';

const H = Object.fromEntries(EventHdrLayout.fields.map((f) => [f.name, f.offset]));
const L = Object.fromEntries(PacketEventLayout.fields.map((f) => [f.name, f.offset]));

/** A packet_event sample as tc_capture.bpf.c sends it. */
export function packetSample(frame: Buffer, o: { pid?: number; uid?: number; comm?: string; flags?: number; peer?: number; ts?: bigint; len?: number } = {}): Buffer {
  const b = Buffer.alloc(PacketEventLayout.DATA_OFFSET + frame.length);
  b.writeUInt32LE(EventKind.EVENT_PACKET, H.kind!);
  b.writeBigUInt64LE(o.ts ?? 5_000_000_000n, H.ts_ns!);
  b.writeUInt32LE(o.pid ?? 0, H.pid!);
  b.writeUInt32LE(o.uid ?? 0, H.uid!);
  b.write(o.comm ?? '', H.comm!, 'latin1');
  b.writeUInt32LE(o.flags ?? 0, L.pkt_flags!);
  b.writeUInt32LE(o.len ?? frame.length, L.len!);
  b.writeUInt32LE(frame.length, L.cap_len!);
  b.writeUInt32LE(o.peer ?? 0, L.peer_pid!);
  frame.copy(b, PacketEventLayout.DATA_OFFSET);
  return b;
}

const iface = (loopback: boolean): NetInterface => ({ name: loopback ? 'lo' : 'eth9', ifindex: 7, arphrd: loopback ? 772 : 1, flags: 1, up: true, loopback, addresses: [], linkType: LINKTYPE_ETHERNET });

function withCapture(loopback: boolean, filter: CompiledFilter | undefined, fn: (pc: PacketCapture) => void): ReturnType<typeof readPcapng> {
  const dir = mkdtempSync(join(tmpdir(), 'ecap-pkt-'));
  try {
    const path = join(dir, 'p.pcapng');
    const writer = new PcapngWriter({ path, flushIntervalMs: 0 });
    const interfaceId = writer.addInterface({ linkType: LINKTYPE_ETHERNET, name: 'x' });
    const pc = PacketCapture.withoutKernel({
      config: {}, iface: iface(loopback), interfaceId, snaplen: 65792, writer,
      wallClock: (m) => BigInt(m) + 1_700_000_000_000_000_000n, log: createLogger({ level: 'error' }),
      ...(filter ? { filter } : {}),
    });
    fn(pc);
    writer.close();
    return readPcapng(readFileSync(path));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const frame = (dport: number, n = 10): Buffer => ether(ipv4Tcp('127.0.0.1', 50000, '127.0.0.1', dport, Buffer.alloc(n, 0x41)));

test('packet events become EPBs: wall-clock time, wire length, comments naming the owner', () => {
  const blocks = withCapture(true, undefined, (pc) => {
    pc.handle(packetSample(frame(443), { pid: 42, comm: 'curl', flags: PktFlags.PKT_OWNER | PktFlags.PKT_SENDER | PktFlags.PKT_EGRESS | PktFlags.PKT_PEER_OWNER, peer: 77 }));
    pc.handle(packetSample(frame(443), { pid: 77, uid: 1000, comm: 'nginx', flags: PktFlags.PKT_OWNER | PktFlags.PKT_EGRESS }));
    pc.handle(packetSample(frame(443, 3), { len: 9000 })); // nobody's, cut to the snap length
    pc.handle(Buffer.alloc(10)); // short
    assert.deepEqual(pc.counters, { packets: 3, bytes: 2 * 64 + 9000, userFiltered: 0, short: 1, unknown: 0, owned: 2, seededSockets: 0 });
  });
  const epbs = blocks.filter((b) => b.type === 'epb');
  assert.equal(epbs.length, 3);
  const [a, b, c] = epbs as Extract<(typeof epbs)[number], { type: 'epb' }>[];
  assert.equal(a!.comment, 'pid=42 comm=curl peer_pid=77');
  assert.equal(b!.comment, 'pid=77 comm=nginx uid=1000 (receiver)');
  assert.equal(c!.comment, undefined);
  assert.equal(a!.tsNs, 1_700_000_005_000_000_000n);
  assert.equal(a!.flags, undefined, 'no direction on loopback');
  assert.equal(c!.origLen, 9000);
  assert.equal(c!.capturedLen, frame(443, 3).length);
  assert.deepEqual(a!.data, frame(443));
});

test('direction flags on other interfaces', () => {
  const blocks = withCapture(false, undefined, (pc) => {
    pc.handle(packetSample(frame(443), { flags: PktFlags.PKT_EGRESS }));
    pc.handle(packetSample(frame(443), { flags: 0 }));
  });
  assert.deepEqual(blocks.filter((b) => b.type === 'epb').map((b) => (b.type === 'epb' ? b.flags : -1)), [2, 1]);
});

test('a userspace filter drops what libpcap rejects', { skip: !existsSync(nativeAddonPath) && 'native addon not built' }, async () => {
  const { native } = await import('../../bpf/native.js');
  const program = native().pcapCompile('tcp port 443', 1, 65535);
  const filter: CompiledFilter = { expr: 'tcp port 443', program, insns: program.length / 8, placement: 'user', why: 'test' };
  let kept = 0;
  const blocks = withCapture(true, filter, (pc) => {
    pc.handle(packetSample(frame(443)));
    pc.handle(packetSample(frame(80)));
    kept = pc.counters.packets;
    assert.equal(pc.counters.userFiltered, 1);
  });
  assert.equal(kept, 1);
  assert.equal(blocks.filter((b) => b.type === 'epb').length, 1);
});
