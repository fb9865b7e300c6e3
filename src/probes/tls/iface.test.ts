import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../../output/pcapng/blocks.js';
import { defaultInterface, interfaceInfo, listInterfaces, resolveInterface, type NetInterface } from './iface.js';

const nif = (name: string, ifindex: number, o: Partial<NetInterface> = {}): NetInterface => ({
  name, ifindex, arphrd: 1, flags: 1, up: true, loopback: false, addresses: ['10.0.0.1'], linkType: LINKTYPE_ETHERNET, ...o,
});

test('default interface as eCapture: first up, non-loopback, with an address (by index)', () => {
  const list = [
    nif('lo', 1, { loopback: true, arphrd: 772 }),
    nif('ifb0', 2, { up: false, addresses: [] }),
    nif('br0', 3, { addresses: [] }),
    nif('eth0', 4),
    nif('eth1', 5),
  ];
  assert.equal(defaultInterface(list)!.name, 'eth0');
  assert.equal(resolveInterface('', list).name, 'eth0');
  assert.equal(defaultInterface([list[0]!]), undefined);
  assert.throws(() => resolveInterface('', [list[0]!]), /no interface given and none is up/);
});

test('resolveInterface: missing, down and unsupported interfaces are clear errors', () => {
  const list = [nif('lo', 1, { loopback: true }), nif('ifb0', 2, { up: false }), nif('can0', 3, { arphrd: 280, linkType: undefined }), nif('tun0', 4, { arphrd: 65534, linkType: LINKTYPE_RAW })];
  assert.throws(() => resolveInterface('nope0', list), (e: Error & { hint?: string }) => /-i nope0: no such network interface/.test(e.message) && /lo, ifb0/.test(e.hint!));
  assert.throws(() => resolveInterface('ifb0', list), /-i ifb0: the interface is down/);
  assert.throws(() => resolveInterface('can0', list), /ARPHRD 280 is not supported/);
  assert.equal(resolveInterface('tun0', list).linkType, LINKTYPE_RAW);
  assert.equal(resolveInterface('lo', list).name, 'lo', 'lo is allowed when asked for');
});

test('the system: lo is a loopback with an Ethernet link type and index 1', () => {
  const lo = interfaceInfo('lo')!;
  assert.ok(lo, 'lo exists');
  assert.equal(lo.loopback, true);
  assert.equal(lo.up, true);
  assert.equal(lo.linkType, LINKTYPE_ETHERNET);
  assert.equal(lo.arphrd, 772);
  assert.ok(lo.addresses.includes('127.0.0.1'));
  assert.ok(listInterfaces().some((i) => i.name === 'lo'));
  assert.equal(interfaceInfo('../etc'), undefined);
  assert.equal(interfaceInfo('definitely-not-here'), undefined);
});
