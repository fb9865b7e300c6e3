import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globalOptions } from './options.js';
import { jsonSchema, validateCli, validateJson } from './schema.js';
import { tlsDescriptor } from '../probes/tls/index.js';

const specs = [...globalOptions, ...tlsDescriptor.options];

test('CLI values are coerced, validated and defaulted', () => {
  const r = validateCli(specs, { pid: '42', model: 'PCAPNG', hex: true });
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.equal(r.config.pid, 42);
  assert.equal(r.config.model, 'pcap', 'aliases and case are normalised');
  assert.equal(r.config.mapsize, 1024);
  assert.equal(r.config.keylogfile, 'ecapture_openssl_key.log');
  assert.equal(r.config.pcapfile, 'save.pcapng');
  assert.equal(r.config.uid, undefined, 'uid is unset unless given');
});

test('CLI errors name the flag', () => {
  const bad = [
    [{ pid: '-1' }, /--pid: "-1" is not a non-negative integer/],
    [{ pid: '12abc' }, /--pid/],
    [{ model: 'tcp' }, /--model: must be one of text, pcap, pcapng, key, keylog/],
    [{ btf: '3' }, /--btf: must be <= 2/],
    [{ mapsize: '0' }, /--mapsize: must be >= 1/],
  ] as const;
  for (const [raw, re] of bad) {
    const r = validateCli(specs, raw as Record<string, unknown>);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.message, re);
  }
});

test('JSON bodies accept our keys and eCapture\'s, and name the bad field', () => {
  const ok = validateJson(specs, { pid: 7, opensslpath: '/usr/lib/libssl.so.3', capturemode: 'keylog', is_hex: true });
  assert.ok(ok.ok);
  if (ok.ok) {
    assert.equal(ok.config.libssl, '/usr/lib/libssl.so.3');
    assert.equal(ok.config.model, 'keylog');
    assert.equal(ok.config.hex, true);
  }
  const cases = [
    [{ pid: 'x' }, 'pid'],
    [{ nosuch: 1 }, 'nosuch'],
    [{ uid: -5 }, 'uid'],
    [{ model: 'x' }, 'model'],
    [[], '(root)'],
    ['str', '(root)'],
  ] as const;
  for (const [body, field] of cases) {
    const r = validateJson(specs, body);
    assert.equal(r.ok, false, JSON.stringify(body));
    if (!r.ok) assert.equal(r.field, field);
  }
});

test('the JSON schema documents every option', () => {
  const s = jsonSchema(specs) as { properties: Record<string, { description: string }> };
  for (const o of specs) assert.ok(s.properties[o.key]?.description, o.key);
});

test('ahead-of-time validators are current and give the same answers as run-time ones', async () => {
  const { existsSync } = await import('node:fs');
  const { PRECOMPILED_DIR, precompiledValidator, schemaHash } = await import('./schema.js');
  if (!existsSync(PRECOMPILED_DIR)) return; // built by scripts/setup.sh
  const v = precompiledValidator(schemaHash(jsonSchema(specs)));
  assert.ok(v, 'build/validators/ has the tls schema (run scripts/setup.sh)');
  assert.equal(v({ pid: 1, model: 'text' }), true);
  assert.equal(v({ pid: -1 }), false);
  assert.equal(v({ nosuch: 1 }), false);
});
