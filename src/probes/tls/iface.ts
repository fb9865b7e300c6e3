/**
 * The interface pcap mode captures on (-i): its index, link type and state, from /sys/class/net and the
 * addresses node reports. Default as eCapture: the first interface (by index) that is up, is not a loopback,
 * and has an address. Errors are raised before anything is attached.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { ConfigError } from '../../errors.js';
import { linkTypeForArphrd } from '../../output/pcapng/blocks.js';

export const IFF_UP = 0x1;
export const IFF_LOOPBACK = 0x8;

export interface NetInterface {
  name: string;
  ifindex: number;
  /** ARPHRD_* (/sys/class/net/<if>/type) */
  arphrd: number;
  flags: number;
  up: boolean;
  loopback: boolean;
  addresses: string[];
  /** pcapng LINKTYPE_* of what a TC program sees on it, undefined when unsupported */
  linkType?: number;
}

const SYS = '/sys/class/net';

function readSys(name: string, file: string): string | undefined {
  try {
    return readFileSync(`${SYS}/${name}/${file}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** One interface as the system describes it, or undefined when there is no such interface. */
export function interfaceInfo(name: string, addrs: ReturnType<typeof networkInterfaces> = networkInterfaces()): NetInterface | undefined {
  if (!/^[^/\0\s]{1,15}$/.test(name) || name === '.' || name === '..' || !existsSync(`${SYS}/${name}`)) return undefined;
  const ifindex = Number(readSys(name, 'ifindex'));
  const arphrd = Number(readSys(name, 'type'));
  const flags = parseInt(readSys(name, 'flags') ?? '0', 16);
  if (!Number.isInteger(ifindex) || ifindex <= 0) return undefined;
  const out: NetInterface = {
    name,
    ifindex,
    arphrd,
    flags,
    up: (flags & IFF_UP) !== 0,
    loopback: (flags & IFF_LOOPBACK) !== 0 || arphrd === 772,
    addresses: (addrs[name] ?? []).map((a) => a.address),
  };
  const lt = linkTypeForArphrd(arphrd);
  if (lt !== undefined) out.linkType = lt;
  return out;
}

export function listInterfaces(): NetInterface[] {
  let names: string[] = [];
  try {
    names = readdirSync(SYS);
  } catch {
    return [];
  }
  const addrs = networkInterfaces();
  return names
    .map((n) => interfaceInfo(n, addrs))
    .filter((i): i is NetInterface => i !== undefined)
    .sort((a, b) => a.ifindex - b.ifindex);
}

/** eCapture's default: the first up, non-loopback interface with an address. */
export function defaultInterface(list: readonly NetInterface[]): NetInterface | undefined {
  return list.find((i) => i.up && !i.loopback && i.addresses.length > 0);
}

/** The interface to capture on; throws a ConfigError that says what is wrong. */
export function resolveInterface(name: string, list: readonly NetInterface[] = listInterfaces()): NetInterface {
  const names = list.map((i) => i.name).join(', ');
  if (!name) {
    const d = defaultInterface(list);
    if (!d) {
      throw new ConfigError('pcap mode: no interface given and none is up with an address (other than loopback)', {
        field: 'ifname',
        hint: `choose one with -i (interfaces: ${names || 'none'})`,
      });
    }
    name = d.name;
  }
  const i = list.find((x) => x.name === name);
  if (!i) {
    throw new ConfigError(`-i ${name}: no such network interface`, { field: 'ifname', hint: `interfaces: ${names || 'none'}` });
  }
  if (!i.up) {
    throw new ConfigError(`-i ${name}: the interface is down`, { field: 'ifname', hint: `bring it up (ip link set ${name} up) or choose another one` });
  }
  if (i.linkType === undefined) {
    throw new ConfigError(`-i ${name}: link type ARPHRD ${i.arphrd} is not supported for capture`, {
      field: 'ifname',
      hint: 'Ethernet-like, loopback and raw-IP (tun, wireguard, ipip, gre) interfaces are supported',
    });
  }
  return i;
}
