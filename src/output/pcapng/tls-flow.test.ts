import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW } from './blocks.js';
import { clientHello, ether, ipv4Tcp } from './test-helpers.js';
import { tcpFlowInfo } from './tls-flow.js';

function ipv6Tcp(src: number, dst: number, sport: number, dport: number, payload: Buffer): Buffer {
  const ip = Buffer.alloc(40);
  ip[0] = 0x60;
  ip.writeUInt16BE(20 + payload.length, 4);
  ip[6] = 6;
  ip[7] = 64;
  ip[23] = src;
  ip[39] = dst;
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(sport, 0);
  tcp.writeUInt16BE(dport, 2);
  tcp[12] = 5 << 4;
  return Buffer.concat([ip, tcp, payload]);
}

test('flow key is direction-free; ClientHello random is read', () => {
  const cr = Buffer.alloc(32, 0x5c);
  const a = tcpFlowInfo(LINKTYPE_ETHERNET, ether(ipv4Tcp('10.0.0.1', 1234, '10.0.0.2', 443, clientHello(cr))))!;
  const b = tcpFlowInfo(LINKTYPE_ETHERNET, ether(ipv4Tcp('10.0.0.2', 443, '10.0.0.1', 1234, Buffer.from('x'))))!;
  assert.equal(a.flow, b.flow);
  assert.equal(a.clientRandom, cr.toString('hex'));
  assert.equal(b.clientRandom, undefined);
  assert.notEqual(tcpFlowInfo(LINKTYPE_ETHERNET, ether(ipv4Tcp('10.0.0.1', 1235, '10.0.0.2', 443, Buffer.alloc(0))))!.flow, a.flow);
});

test('raw IPv6, VLAN-tagged Ethernet, SLL2; non-TCP and unknown link types are ignored', () => {
  const cr = Buffer.alloc(32, 0x77);
  const v6 = tcpFlowInfo(LINKTYPE_RAW, ipv6Tcp(1, 2, 5555, 443, clientHello(cr)))!;
  assert.equal(v6.clientRandom, cr.toString('hex'));
  assert.equal(tcpFlowInfo(LINKTYPE_RAW, ipv6Tcp(2, 1, 443, 5555, Buffer.alloc(0)))!.flow, v6.flow);
  const frame = ether(ipv4Tcp('10.0.0.1', 1, '10.0.0.2', 2, clientHello(cr)));
  const vlan = Buffer.concat([frame.subarray(0, 12), Buffer.from([0x81, 0x00, 0x00, 0x05]), frame.subarray(12)]);
  assert.equal(tcpFlowInfo(LINKTYPE_ETHERNET, vlan)!.clientRandom, cr.toString('hex'));
  const sll2 = Buffer.concat([Buffer.from([0x08, 0x00]), Buffer.alloc(18), ipv4Tcp('10.0.0.1', 1, '10.0.0.2', 2, Buffer.alloc(0))]);
  assert.ok(tcpFlowInfo(LINKTYPE_LINUX_SLL2, sll2));
  const udp = ipv4Tcp('10.0.0.1', 1, '10.0.0.2', 2, Buffer.alloc(0));
  udp[9] = 17;
  assert.equal(tcpFlowInfo(LINKTYPE_RAW, udp), undefined);
  assert.equal(tcpFlowInfo(147, frame), undefined);
  assert.equal(tcpFlowInfo(LINKTYPE_ETHERNET, Buffer.alloc(10)), undefined);
});
