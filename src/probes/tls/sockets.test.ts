import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { FlowKeyLayout, SkOwnerLayout, decodeFlowKey, decodeSkOwner } from '../../gen/events.js';
import { flowKeyBytes, parseProcAddr, parseProcNet, procSockets, skOwnerBytes, socketOwners } from './sockets.js';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:24C3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 123456 1 0000000000000000 100 0 0 10 0
   1: 0100007F:C350 0100007F:24C3 01 00000000:00000000 00:00000000 00000000  1000        0 123457 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:C351 0100007F:24C3 06 00000000:00000000 03:00000F3C 00000000     0        0 0 3 0000000000000000
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2222 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:01BB 0000000000000000FFFF00000100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 3333 1 0000000000000000 20 4 30 10 -1
   2: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0
`;

test('/proc/net addresses: IPv4 and IPv6 words in host order, v4-mapped becomes IPv4', () => {
  const a = parseProcAddr('0100007F:24C3')!;
  assert.equal(a.family, 4);
  assert.deepEqual([...a.addr.subarray(0, 4)], [127, 0, 0, 1]);
  assert.equal(a.port, 9411);
  const m = parseProcAddr('0000000000000000FFFF00000100007F:01BB')!;
  assert.equal(m.family, 4);
  assert.deepEqual([...m.addr.subarray(0, 4)], [127, 0, 0, 1]);
  assert.ok(m.addr.subarray(4).every((b) => b === 0));
  const six = parseProcAddr('00000000000000000000000001000000:1F90')!; // ::1
  assert.equal(six.family, 6);
  assert.equal(six.addr[15], 1);
  assert.equal(parseProcAddr('zz:1'), undefined);
});

test('/proc/net/tcp{,6}: listeners, connections, v4-mapped connections; inode 0 (time-wait) skipped', () => {
  const v4 = parseProcNet(TCP, 6);
  assert.equal(v4.length, 2);
  assert.deepEqual(v4.map((s) => [s.inode, s.lport, s.rport, s.state]), [[123456, 9411, 0, 0x0a], [123457, 50000, 9411, 1]]);
  const v6 = parseProcNet(TCP6, 6);
  assert.deepEqual(v6.map((s) => [s.inode, s.family, s.lport, s.rport]), [[2222, 6, 443, 0], [3333, 4, 443, 54321], [4444, 6, 8080, 0]]);
});

test('flow_key / sk_owner bytes decode back through the generated layouts', () => {
  const [s] = parseProcNet(TCP, 6).slice(1);
  const k = flowKeyBytes(s!);
  assert.equal(k.length, FlowKeyLayout.SIZE);
  const d = decodeFlowKey(k)!;
  assert.deepEqual([d.family, d.proto, d.lport, d.rport], [4, 6, 50000, 9411]);
  assert.deepEqual([...d.laddr.subarray(0, 4)], [127, 0, 0, 1]);
  const o = skOwnerBytes({ pid: 77, uid: 1000, comm: 'a-very-long-command-name', cgroupId: 5n });
  assert.equal(o.length, SkOwnerLayout.SIZE);
  const od = decodeSkOwner(o)!;
  assert.deepEqual([od.pid, od.tid, od.uid, od.cgroupId, od.comm], [77, 77, 1000, 5, 'a-very-long-com']);
});

test('this process is found as the owner of a socket it listens on', async () => {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  try {
    const port = (srv.address() as { port: number }).port;
    const s = procSockets().find((x) => x.proto === 6 && x.lport === port && x.state === 0x0a);
    assert.ok(s, 'the listener is in /proc/net/tcp');
    const owners = socketOwners(new Set([s.inode]));
    assert.equal(owners.get(s.inode)?.pid, process.pid);
  } finally {
    srv.close();
  }
});
