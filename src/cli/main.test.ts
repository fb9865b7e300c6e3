import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main, parseArgs } from './main.js';
import { globalOptions } from '../config/options.js';
import { tlsDescriptor } from '../probes/tls/index.js';

function capture(): { io: { out: (s: string) => void; err: (s: string) => void }; out: () => string; err: () => string } {
  let o = '';
  let e = '';
  return { io: { out: (s) => (o += s), err: (s) => (e += s) }, out: () => o, err: () => e };
}

test('wrong flags print usage and exit 2', async () => {
  for (const argv of [['tls', '--nope'], ['tls', '-p', 'abc'], ['tls', '-m', 'foo'], ['nosuchcmd'], ['tls', '--mapsize']]) {
    const c = capture();
    assert.equal(await main(argv, c.io), 2, argv.join(' '));
    assert.match(c.err(), /error|unknown/i, argv.join(' '));
  }
});

test('no command is a usage error', async () => {
  const c = capture();
  assert.equal(await main([], c.io), 2);
});

test('--help documents every flag of a module and exits 0', async () => {
  const c = capture();
  assert.equal(await main(['tls', '--help'], c.io), 0);
  for (const s of [...globalOptions, ...tlsDescriptor.options]) {
    if (s.hidden) continue;
    assert.ok(c.out().includes(`--${s.long}`), `--${s.long} in help`);
    if (s.short) assert.ok(c.out().includes(`-${s.short}, --${s.long}`), `-${s.short} in help`);
  }
  assert.match(c.out(), /Examples:/);
});

test('--version prints eCapture-style version', async () => {
  const c = capture();
  assert.equal(await main(['--version'], c.io), 0);
  assert.match(c.out(), /version:\s+linux_\w+:v\d+\.\d+\.\d+:/);
});

test('aliases, prefixes and positional filters', () => {
  const a = parseArgs(['openssl', '-p', '12', 'tcp', 'port', '443'])!;
  assert.equal(a.descriptor.name, 'tls');
  assert.equal(a.config.pid, 12);
  assert.equal(a.config.pcapFilter, 'tcp port 443');
  const b = parseArgs(['op', '--hex'])!;
  assert.equal(b.descriptor.name, 'tls');
  assert.equal(b.config.hex, true);
  const c = parseArgs(['tls', '--cgroup_path', '/sys/fs/cgroup/x', '--ssl_version', 'openssl 3.0.12', '-k', 'k.log', '-w', 'o.pcapng', '-i', 'lo'])!;
  assert.equal(c.config.cgroupPath, '/sys/fs/cgroup/x');
  assert.equal(c.config.sslVersion, 'openssl 3.0.12');
  assert.equal(c.config.keylogfile, 'k.log');
  assert.equal(c.config.pcapfile, 'o.pcapng');
  assert.equal(c.config.ifname, 'lo');
});
