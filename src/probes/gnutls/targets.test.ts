/** GnuTLS target discovery and key plans on this machine's files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processLibraryPath } from '../common/lib-finder.js';
import { clearTargetCaches, gnutlsFinder, keyPlan, parseForcedVersion } from './targets.js';

const LIB = '/usr/lib/x86_64-linux-gnu/libgnutls.so.30';
const haveLib = existsSync(LIB) && process.arch === 'x64';

test('--ssl_version forms', () => {
  assert.equal(parseForcedVersion('3.7.9'), '3.7.9');
  assert.equal(parseForcedVersion('gnutls 3.8.4'), '3.8.4');
  assert.equal(parseForcedVersion('GnuTLS_3.6.13'), '3.6.13');
  assert.equal(parseForcedVersion('3_7_7'), '3_7_7');
  assert.equal(parseForcedVersion('openssl 3.0.2'), undefined);
  assert.equal(parseForcedVersion(''), undefined);
  assert.equal(parseForcedVersion('3.7.9; rm -rf /'), undefined);
});

test('the system libgnutls is a target with every hooked function and its version', { skip: !haveLib }, () => {
  clearTargetCaches();
  const t = gnutlsFinder.inspect(LIB);
  assert.ok(t, 'a target');
  for (const f of ['gnutls_record_send', 'gnutls_record_recv', 'gnutls_record_send2', 'gnutls_record_recv_seq', 'gnutls_deinit', 'gnutls_handshake'] as const) {
    assert.ok(typeof t.offsets[f] === 'number' && t.offsets[f]! > 0, f);
  }
  assert.match(t.info.lib, /^gnutls 3\.\d+\.\d+$/);
  assert.ok(gnutlsFinder.system().some((s) => s.key === t.key), 'found among the system libraries');
  assert.equal(gnutlsFinder.inspect(LIB, '/x')?.displayPath, '/x', 'cached per file, display path per caller');
});

test('key plans: hook by default, the handshake method on request, forced layouts', { skip: !haveLib }, () => {
  const t = gnutlsFinder.inspect(LIB)!;
  const auto = keyPlan(t, 'auto');
  assert.ok(typeof auto !== 'string' && auto.method === 'hook' && auto.hookOffset! > 0, JSON.stringify(auto));
  assert.equal(auto.layout.client_random, 0x50);
  assert.equal(auto.resumedToo, true, 'resumed TLS 1.2 sessions through gnutls_handshake, offsets from accessors');
  assert.equal(auto.layout.hs_ckey, undefined, 'no TLS 1.3 members next to the hook');
  const hs = keyPlan(t, 'handshake');
  assert.ok(typeof hs !== 'string' && hs.method === 'handshake', JSON.stringify(hs));
  if (t.info.version === '3.7.9') {
    assert.deepEqual(hs.table, { name: '3_7_7', exact: true }, 'Debian 12 uses the 3.7.7 layout');
    assert.equal(hs.layout.hs_ckey, 0x1794);
  }
  const forced = keyPlan(t, 'handshake', '3_8_7');
  assert.ok(typeof forced !== 'string' && forced.table?.name === '3_8_7' && forced.layout.hs_ckey === 0x19d4);
  const unknown = keyPlan(t, 'handshake', '9.9.9');
  assert.equal(typeof unknown, 'string');
  assert.match(unknown as string, /no struct offsets for GnuTLS 9\.9\.9/);
});

test('files that are not GnuTLS are not targets', () => {
  const d = mkdtempSync(join(tmpdir(), 'gnutls-t-'));
  try {
    writeFileSync(join(d, 'x.so'), 'not an elf');
    assert.equal(gnutlsFinder.inspect(join(d, 'x.so')), undefined);
    assert.equal(gnutlsFinder.inspect(join(d, 'missing.so')), undefined);
    assert.equal(gnutlsFinder.inspect('/bin/true'), undefined);
    const ssl = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
    if (existsSync(ssl)) assert.equal(gnutlsFinder.inspect(ssl), undefined, 'OpenSSL is not GnuTLS');
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('a program that needs libgnutls: found when it starts', { skip: !haveLib || !existsSync('/usr/bin/wget') }, () => {
  const ts = gnutlsFinder.ofNewProgram('/usr/bin/wget');
  assert.ok(ts.some((t) => /libgnutls\.so/.test(t.path)), ts.map((t) => t.path).join(', '));
  assert.deepEqual(gnutlsFinder.ofNewProgram('/nonexistent'), []);
});

test('a program started with LD_LIBRARY_PATH: its private libgnutls copy is resolved first', { skip: !haveLib || !existsSync('/usr/bin/gnutls-cli') }, () => {
  const d = mkdtempSync(join(tmpdir(), 'gnutls-ld-'));
  try {
    copyFileSync(LIB, join(d, 'libgnutls.so.30'));
    const ts = gnutlsFinder.ofNewProgram('/usr/bin/gnutls-cli', [d]);
    assert.ok(ts.some((t) => t.path === join(d, 'libgnutls.so.30')), ts.map((t) => t.path).join(', '));
    assert.ok(!ts.some((t) => t.path.startsWith('/usr/lib')), 'the system copy is not what this program loads');
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('LD_LIBRARY_PATH of a running process: absolute entries only', async () => {
  const child = spawn('sleep', ['5'], { env: { ...process.env, LD_LIBRARY_PATH: '/opt/a:relative/b::/opt/c/' } });
  try {
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(processLibraryPath(child.pid!), ['/opt/a', '/opt/c/']);
    assert.deepEqual(processLibraryPath(4_000_000), [], 'no such process');
  } finally {
    child.kill();
  }
});
