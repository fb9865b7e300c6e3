import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { inspectSslFile, processSslTargets } from './targets.js';

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
