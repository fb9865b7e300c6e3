import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { hookedFunctions, inspectSslFile, processSslTargets } from './targets.js';

const LIBSSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';

/** Symbol values from binutils' nm -D, as an independent check of our ELF reading. */
function nmD(path: string): Map<string, number> {
  const out = execFileSync('nm', ['-D', '--defined-only', path], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const m = new Map<string, number>();
  for (const line of out.split('\n')) {
    const [v, , name] = line.split(/\s+/);
    if (v && name) m.set(name.replace(/@.*/, ''), parseInt(v, 16));
  }
  return m;
}

test('the system libssl is a target with the offsets nm reports', { skip: !existsSync(LIBSSL) && 'no libssl.so.3' }, () => {
  const t = inspectSslFile(LIBSSL)!;
  assert.ok(t, 'libssl.so.3 is recognised');
  assert.equal(t.kind, 'shared');
  assert.match(t.lib, /^openssl 3\.\d+\.\d+/);
  const nm = nmD(LIBSSL);
  for (const f of ['SSL_write', 'SSL_read', 'SSL_write_ex', 'SSL_read_ex', 'SSL_free'] as const) {
    // for libssl the text segment's file offset equals its vaddr, so nm's value is the uprobe offset
    assert.equal(t.offsets[f], nm.get(f), f);
  }
});

test('node, with OpenSSL linked in statically, is a target', { skip: !existsSync('/usr/bin/node') && 'no /usr/bin/node' }, () => {
  const t = inspectSslFile('/usr/bin/node')!;
  assert.ok(t);
  assert.equal(t.kind, 'static');
  assert.match(t.lib, /openssl 3\.\d+\.\d+.*static in node/);
  assert.ok(t.offsets.SSL_write! > 0 && t.offsets.SSL_read_ex! > 0);
});

test('files without OpenSSL are not targets, and bad paths do not throw', () => {
  assert.equal(inspectSslFile('/bin/ls'), undefined);
  assert.equal(inspectSslFile('/etc/passwd'), undefined);
  assert.equal(inspectSslFile('/nonexistent'), undefined);
});

test('this node process maps a TLS target (its own binary)', () => {
  const ts = processSslTargets(process.pid);
  assert.ok(ts.some((t) => t.kind === 'static' || /libssl/.test(t.displayPath)), JSON.stringify(ts.map((t) => t.displayPath)));
});

/** The target of the first `call` in a function, from objdump (an independent decoder). */
function firstCallTarget(path: string, sym: string): number | undefined {
  const nm = nmD(path);
  const start = nm.get(sym)!;
  const out = execFileSync('objdump', ['-d', `--start-address=${start}`, `--stop-address=${start + 64}`, path], { encoding: 'utf8' });
  const m = /\bcall\s+([0-9a-f]+)/.exec(out);
  return m ? parseInt(m[1]!, 16) : undefined;
}

test("the system libssl routes SSL_read/SSL_read_ex (and the writes) through one inner function each", { skip: !existsSync(LIBSSL) && 'no libssl.so.3' }, () => {
  const t = inspectSslFile(LIBSSL)!;
  // Debian 12's OpenSSL 3.0: SSL_read_ex is `sub $8,%rsp; call ssl_read_internal`
  assert.equal(t.offsets.ssl_read_internal, firstCallTarget(LIBSSL, 'SSL_read_ex'));
  assert.equal(t.offsets.ssl_write_internal, firstCallTarget(LIBSSL, 'SSL_write_ex'));
  assert.notEqual(t.offsets.ssl_read_internal, t.offsets.ssl_write_internal);
  // hooked: the inner functions instead of the four wrappers; ECAPTURE_HOOK_EXPORTS=1 keeps the wrappers
  const wrappers = ['SSL_read', 'SSL_read_ex', 'SSL_write', 'SSL_write_ex'];
  assert.deepEqual(Object.keys(hookedFunctions(t.offsets, false)).sort(), Object.keys(t.offsets).filter((f) => !wrappers.includes(f)).sort());
  assert.deepEqual(Object.keys(hookedFunctions(t.offsets, true)).sort(), Object.keys(t.offsets).filter((f) => !f.startsWith('ssl_')).sort());
});

test('node inlines ssl_read_internal into its wrappers: its exports stay hooked', { skip: !existsSync('/usr/bin/node') && 'no /usr/bin/node' }, () => {
  const t = inspectSslFile('/usr/bin/node')!;
  assert.equal(t.offsets.ssl_read_internal, undefined);
  assert.equal(t.offsets.ssl_write_internal, undefined);
  assert.deepEqual(hookedFunctions(t.offsets), t.offsets);
});

test('hookedFunctions replaces a direction only when its inner function was found', () => {
  const offsets = { SSL_write: 1, SSL_read: 2, SSL_write_ex: 3, SSL_read_ex: 4, SSL_free: 5, ssl_read_internal: 9 };
  assert.deepEqual(hookedFunctions(offsets, false), { SSL_write: 1, SSL_write_ex: 3, SSL_free: 5, ssl_read_internal: 9 });
  assert.deepEqual(hookedFunctions(offsets, true), { SSL_write: 1, SSL_read: 2, SSL_write_ex: 3, SSL_read_ex: 4, SSL_free: 5 });
});
