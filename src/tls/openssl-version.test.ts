import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { CaptureError } from '../errors.js';
import { detectTlsLibrary, resolveTlsLibrary, selectForcedLayout, selectLayout, selectOpenSslLayout } from './openssl-version.js';
import { compareVersions, knownVersions, parseOpenSslVersion } from './offsets-table.js';

/** eCapture's map (ecapture.md §3.3), written out independently of offsets/openssl.json. */
function expectedLayout(series: string, x: string | number): string {
  const n = typeof x === 'number' ? x : 0;
  switch (series) {
    case '1.0.2': return 'openssl_1_0_2a';
    case '1.1.0': return 'openssl_1_1_0a';
    case '1.1.1': return x === 'a' ? 'openssl_1_1_1a' : x <= 'c' ? 'openssl_1_1_1b' : x <= 'i' ? 'openssl_1_1_1d' : 'openssl_1_1_1j';
    case '3.0': return n === 12 ? 'openssl_3_0_12' : 'openssl_3_0_0';
    case '3.1': return 'openssl_3_1_0';
    case '3.2': return n <= 2 ? 'openssl_3_2_0' : n === 3 ? 'openssl_3_2_3' : 'openssl_3_2_4';
    case '3.3': return n <= 1 ? 'openssl_3_3_0' : n === 2 ? 'openssl_3_3_2' : 'openssl_3_3_3';
    case '3.4': return n === 0 ? 'openssl_3_4_0' : 'openssl_3_4_1';
    default: return 'openssl_3_5_0'; // 3.5, 3.6, 4.0
  }
}
const letters = (from: string, to: string): string[] =>
  Array.from({ length: to.charCodeAt(0) - from.charCodeAt(0) + 1 }, (_, i) => String.fromCharCode(from.charCodeAt(0) + i));
const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

test('every known version string selects its layout exactly, with no warning', () => {
  const cases: [string, string][] = [];
  for (const [s, l] of [['1.0.2', letters('a', 'u')], ['1.1.0', letters('a', 'l')], ['1.1.1', letters('a', 'w')]] as const) {
    for (const c of l) cases.push([`OpenSSL ${s}${c}  11 Sep 2023`, expectedLayout(s, c)]);
  }
  const num: [string, number][] = [['3.0', 21], ['3.1', 8], ['3.2', 6], ['3.3', 7], ['3.4', 6], ['3.5', 7], ['3.6', 2], ['4.0', 1]];
  for (const [s, max] of num) for (const p of range(0, max)) cases.push([`openssl ${s}.${p}`, expectedLayout(s, p)]);
  assert.equal(cases.length, 21 + 12 + 23 + 22 + 9 + 7 + 8 + 7 + 8 + 3 + 2);
  for (const [v, want] of cases) {
    const sel = selectOpenSslLayout(v);
    assert.equal(sel.layout, want, v);
    assert.equal(sel.exact, true, v);
    assert.equal(sel.warning, undefined, v);
  }
  assert.equal(knownVersions().length, cases.length);
});

test('fallbacks: nearest lower in the series, newer-than-known, family defaults — always with a warning', () => {
  const f = (v: string, path = ''): [string, string | undefined] => {
    const s = selectOpenSslLayout(v, path);
    return [s.layout, s.warning];
  };
  let [l, w] = f('OpenSSL 3.0.22 25 Aug 2026');
  assert.equal(l, 'openssl_3_0_0');
  assert.match(w!, /OpenSSL 3\.0\.22 .*3\.0\.21.*using the 3\.0\.0 layout/);
  [l, w] = f('openssl 3.9.0');
  assert.equal(l, 'openssl_3_5_0');
  assert.equal(w, 'OpenSSL 3.9.0 is newer than the known layouts; using the 3.5.0 layout');
  assert.equal(f('openssl 3.7.1')[1], 'OpenSSL 3.7.1 is newer than the known layouts; using the 3.5.0 layout');
  assert.equal(f('openssl 5.0.0')[0], 'openssl_3_5_0');
  assert.equal(f('openssl 3.2.7')[0], 'openssl_3_2_4');
  assert.equal(f('openssl 3.3.9')[0], 'openssl_3_3_3');
  assert.equal(f('openssl 3.1.9')[0], 'openssl_3_1_0');
  assert.equal(f('openssl 1.1.1x')[0], 'openssl_1_1_1j');
  assert.equal(f('openssl 1.0.2za')[0], 'openssl_1_0_2a');
  // bare 1.1.1 (no letter) is older than 1.1.1a: nearest known in its series, not 1.1.0 (eCapture's downgrade)
  [l, w] = f('OpenSSL 1.1.1  11 Sep 2018');
  assert.equal(l, 'openssl_1_1_1a');
  assert.match(w!, /older/);
  assert.equal(f('openssl 1.1.2')[0], 'openssl_1_1_1j');
  // unknown and older: family defaults
  assert.equal(f('openssl 1.0.1u')[0], 'openssl_1_1_1j');
  assert.equal(f('openssl 1.0.1u', '/usr/lib/libssl.so.3')[0], 'openssl_3_0_0');
  [l, w] = f('', '/opt/lib/libssl.so.3');
  assert.equal(l, 'openssl_3_0_0');
  assert.match(w!, /no OpenSSL version string found in \/opt\/lib\/libssl\.so\.3/);
  assert.equal(selectOpenSslLayout(undefined, '/usr/lib/libssl.so.1.1').layout, 'openssl_1_1_1j');
});

test('--ssl_version forms', () => {
  assert.equal(selectForcedLayout('openssl 3.0.12').layout, 'openssl_3_0_12');
  assert.equal(selectForcedLayout('OpenSSL  3.0.12').layout, 'openssl_3_0_12');
  assert.equal(selectForcedLayout('3.2.3').layout, 'openssl_3_2_3');
  assert.equal(selectForcedLayout('boringssl na').layout, 'boringssl_na');
  assert.equal(selectForcedLayout('boringssl_na').layout, 'boringssl_na');
  assert.equal(selectForcedLayout('boringssl 1.1.1').layout, 'boringssl_a_13');
  assert.equal(selectForcedLayout('android_default').layout, 'boringssl_a_13');
  assert.equal(selectForcedLayout('linux_default_3_0').layout, 'openssl_3_0_0');
  for (const a of [13, 14, 15, 16]) {
    const s = selectForcedLayout(`boringssl_a_${a}`);
    assert.equal(s.layout, `boringssl_a_${a}`);
    assert.equal(s.kind, 'boringssl');
    assert.equal(s.exact, true);
  }
  const later = selectForcedLayout('boringssl_a_17');
  assert.equal(later.layout, 'boringssl_a_16');
  assert.match(later.warning!, /Android 17/);
  assert.equal(selectForcedLayout('boringssl_a_12').layout, 'boringssl_a_13');
  assert.equal(selectForcedLayout('openssl_3_4_1').layout, 'openssl_3_4_1');
  assert.match(selectForcedLayout('openssl 3.8.0').warning!, /newer than the known layouts; using the 3\.5\.0 layout/);
  assert.throws(() => selectForcedLayout('gnutls 3.7'), (e: unknown) => e instanceof CaptureError && e.code === 'ECAP_CONFIG');
  // forced wins over detection
  const det = { path: '/x/libssl.so.3', kind: 'openssl' as const, version: 'openssl 3.0.2', android: false, evidence: [] };
  assert.equal(selectLayout(det, { forceVersion: 'openssl 3.0.12' }).layout, 'openssl_3_0_12');
  assert.equal(selectLayout({ ...det, kind: 'boringssl' }, { androidRelease: 15 }).layout, 'boringssl_a_15');
  const bdef = selectLayout({ ...det, kind: 'boringssl' });
  assert.equal(bdef.layout, 'boringssl_na');
  assert.match(bdef.warning!, /cannot be determined/);
});

test('version parsing and ordering', () => {
  assert.deepEqual(parseOpenSslVersion('OpenSSL 3.0.22 25 Aug 2026'), { major: 3, minor: 0, patch: 22, letter: '' });
  assert.deepEqual(parseOpenSslVersion('openssl 1.1.1w'), { major: 1, minor: 1, patch: 1, letter: 'w' });
  assert.equal(parseOpenSslVersion('boringssl'), undefined);
  const v = (s: string) => parseOpenSslVersion(s)!;
  assert.ok(compareVersions(v('3.0.9'), v('3.0.21')) < 0);
  assert.ok(compareVersions(v('1.0.2z'), v('1.0.2za')) < 0);
  assert.ok(compareVersions(v('1.1.1'), v('1.1.1a')) < 0);
});

const SYS = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
const NODE = '/usr/bin/node';
const BSSL = '/usr/lib/x86_64-linux-gnu/android/libssl.so.0';

test('system libssl.so.3: version from DT_NEEDED libcrypto.so.3, 3.0.0 layout, accessors agree', { skip: !existsSync(SYS) }, () => {
  const { detected, selection } = resolveTlsLibrary(SYS);
  assert.equal(detected.kind, 'openssl');
  assert.match(detected.version!, /^openssl 3\.0\.\d+$/);
  assert.match(detected.versionFrom!, /libcrypto\.so\.3$/);
  assert.equal(selection.layout, 'openssl_3_0_0');
  assert.ok(selection.check!.checked.length >= 4);
  assert.deepEqual(selection.check!.mismatches, []);
  if (detected.version === 'openssl 3.0.22') assert.match(selection.warning!, /3\.0\.22.*accessors agree/);
  // forcing the wrong layout is caught by the accessor check
  const wrong = resolveTlsLibrary(SYS, { forceVersion: 'openssl 3.0.12' }).selection;
  assert.equal(wrong.check!.mismatches[0]!.symbol, 'SSL_get_session');
  assert.match(wrong.warning!, /does not match libssl\.so\.3 \(SSL_get_session reads 0x918, layout ssl_session is 0x938\)/);
});

test('node with static OpenSSL: version from its own .rodata', { skip: !existsSync(NODE) }, () => {
  const { detected, selection } = resolveTlsLibrary(NODE);
  assert.equal(detected.kind, 'openssl');
  assert.equal(detected.version, `openssl ${process.versions.openssl.replace(/\+.*/, '')}`);
  assert.equal(detected.versionFrom, NODE);
  assert.equal(selection.layout, 'openssl_3_0_0');
  assert.equal(selection.exact, true);
  assert.deepEqual(selection.check!.mismatches, []);
});

test("Debian's android-libboringssl: BoringSSL, a13 layout by accessor match", { skip: !existsSync(BSSL) }, () => {
  const det = detectTlsLibrary(BSSL);
  assert.equal(det.kind, 'boringssl');
  assert.equal(det.version, undefined);
  const { selection } = resolveTlsLibrary(BSSL);
  assert.equal(selection.kind, 'boringssl');
  assert.equal(selection.layout, 'boringssl_a_13');
  assert.equal(selection.warning, undefined);
  assert.equal(selection.offsets.flags.boringssl, true);
  const na = resolveTlsLibrary(BSSL, { forceVersion: 'boringssl na' }).selection;
  assert.match(na.warning!, /SSL_SESSION_get0_cipher reads 0xd0/);
});
