import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { goFixture, goSkipReason, goToolchain, variantSkipReason } from '../../../test/fixtures/go/build.js';
import { type SynthSection, synthElf, synthSymtab } from '../../../test/fixtures/go/synth-elf.js';
import { CaptureError } from '../../errors.js';
import { withElf } from '../elf-file.js';
import { compareGoVersion, parseGoVersion, parseModInfo, readGoBuildInfo } from './buildinfo.js';
import { goUnquote } from './quote.js';

const dir = mkdtempSync(join(tmpdir(), 'ecap-buildinfo-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const writeElf = (bytes: Buffer): string => {
  const p = join(dir, `f${n++}`);
  writeFileSync(p, bytes);
  return p;
};

test('parseGoVersion / compareGoVersion', () => {
  assert.deepEqual(parseGoVersion('go1.19.8'), { major: 1, minor: 19, patch: 8 });
  assert.deepEqual(parseGoVersion('go1.20'), { major: 1, minor: 20, patch: 0 });
  assert.deepEqual(parseGoVersion('go1.21rc2'), { major: 1, minor: 21, patch: 0 });
  assert.deepEqual(parseGoVersion('go1.22.0 X:boringcrypto'), { major: 1, minor: 22, patch: 0 });
  assert.deepEqual(parseGoVersion('devel go1.23-abcdef Tue Jan 1'), { major: 1, minor: 23, patch: 0 });
  assert.equal(parseGoVersion('gcc 12'), undefined);
  assert.equal(compareGoVersion({ major: 1, minor: 17, patch: 0 }, { major: 1, minor: 16, patch: 15 }), 1);
  assert.equal(compareGoVersion({ major: 1, minor: 9, patch: 0 }, { major: 1, minor: 17, patch: 0 }), -1);
});

test('goUnquote undoes strconv.Quote', () => {
  assert.deepEqual(goUnquote('"-s -w"=x'), { value: '-s -w', end: 7 });
  assert.equal(goUnquote('"a\\tb\\"c\\\\d\\x41\\u00e9\\U0001F600\\101"')?.value, 'a\tb"c\\dAé😀A');
  assert.equal(goUnquote('"unterminated'), undefined);
  assert.equal(goUnquote('"bad \\q"'), undefined);
  assert.equal(goUnquote('plain'), undefined);
});

test('parseModInfo: path, mod, deps with replacement, quoted settings, sentinels', () => {
  const body = [
    'path\texample.com/cmd/app',
    'mod\texample.com/cmd\tv1.2.3\th1:abc=',
    'dep\tgolang.org/x/net\tv0.1.0\th1:def=',
    '=>\t../net\t(devel)\t',
    'build\t-buildmode=pie',
    'build\t-ldflags="-s -w -X main.v=1"',
    'build\t"key with space"="v"',
    'build\tCGO_ENABLED=0',
    'build\tGOAMD64=v3',
    '',
  ].join('\n');
  const sentinel = 'x'.repeat(16);
  const m = parseModInfo(sentinel + body + sentinel);
  assert.equal(m.modulePath, 'example.com/cmd/app');
  assert.deepEqual(m.main, { path: 'example.com/cmd', version: 'v1.2.3', sum: 'h1:abc=' });
  assert.deepEqual(m.deps, [{ path: 'golang.org/x/net', version: 'v0.1.0', sum: 'h1:def=', replace: { path: '../net', version: '(devel)' } }]);
  assert.equal(m.settings.get('-buildmode'), 'pie');
  assert.equal(m.settings.get('-ldflags'), '-s -w -X main.v=1');
  assert.equal(m.settings.get('key with space'), 'v');
  assert.equal(m.settings.get('GOAMD64'), 'v3');
});

/** Go ≤1.17 layout: the header holds pointers to string headers {ptr, len}. */
function oldFormatElf(version: string, modinfo: string, opts: { relocated?: boolean } = {}): string {
  const rodata = Buffer.from(version + modinfo, 'utf8');
  const hdrs = Buffer.alloc(32);
  const bi = Buffer.alloc(48);
  Buffer.from('\xff Go buildinf:', 'latin1').copy(bi);
  bi[14] = 8;
  bi[15] = 0;
  const rela = Buffer.alloc(opts.relocated ? 24 * 2 : 0);
  const sections: SynthSection[] = [
    { name: '.rodata', data: rodata, flags: 2n },
    { name: '.data', data: hdrs },
    { name: '.go.buildinfo', data: bi },
  ];
  if (opts.relocated) sections.push({ name: '.rela.dyn', data: rela, type: 4, flags: 2n, entsize: 24 });
  const { bytes } = synthElf(sections, {
    fill: (addr) => {
      const ro = addr.get('.rodata')!;
      const data = addr.get('.data')!;
      hdrs.writeBigUInt64LE(BigInt(ro), 0);
      hdrs.writeBigUInt64LE(BigInt(Buffer.byteLength(version)), 8);
      hdrs.writeBigUInt64LE(BigInt(ro + Buffer.byteLength(version)), 16);
      hdrs.writeBigUInt64LE(BigInt(Buffer.byteLength(modinfo)), 24);
      const ptrs = [data, data + 16];
      ptrs.forEach((p, i) => {
        const field = addr.get('.go.buildinfo')! + 16 + 8 * i;
        if (!opts.relocated) bi.writeBigUInt64LE(BigInt(p), 16 + 8 * i);
        else {
          rela.writeBigUInt64LE(BigInt(field), 24 * i);
          rela.writeBigUInt64LE(8n, 24 * i + 8); // R_X86_64_RELATIVE
          rela.writeBigInt64LE(BigInt(p), 24 * i + 16);
        }
      });
    },
  });
  return writeElf(bytes);
}

test('buildinfo: Go 1.13–1.17 pointer format, plain and through RELATIVE relocations (PIE)', () => {
  const mod = '0123456789abcdef' + 'path\tcmd/x\nbuild\tGOARCH=amd64\n' + 'fedcba9876543210';
  for (const relocated of [false, true]) {
    const info = withElf(oldFormatElf('go1.16.15', mod, { relocated }), readGoBuildInfo);
    assert.equal(info.goVersion, 'go1.16.15');
    assert.deepEqual([info.major, info.minor, info.patch], [1, 16, 15]);
    assert.equal(info.modulePath, 'cmd/x');
    assert.equal(info.settings.get('GOARCH'), 'amd64');
    assert.equal(info.source, 'buildinfo');
  }
});

test('buildinfo: fallback to runtime.buildVersion, then to a version string in a Go binary', () => {
  const ro = Buffer.from('xxgo1.12.17yy', 'latin1');
  const hdr = Buffer.alloc(16);
  const [symtab, strtab] = synthSymtab([{ name: 'runtime.buildVersion', value: 0, size: 16 }]);
  const { bytes } = synthElf([{ name: '.rodata', data: ro, flags: 2n }, { name: '.data', data: hdr }, symtab!, strtab!], {
    fill: (addr) => {
      hdr.writeBigUInt64LE(BigInt(addr.get('.rodata')! + 2), 0);
      hdr.writeBigUInt64LE(9n, 8);
      symtab!.data.writeBigUInt64LE(BigInt(addr.get('.data')!), 24 + 8);
    },
  });
  const info = withElf(writeElf(bytes), readGoBuildInfo);
  assert.equal(info.goVersion, 'go1.12.17');
  assert.equal(info.source, 'buildVersion');

  const noSym = synthElf([{ name: '.rodata', data: Buffer.from('\0runtime: go1.11.13\0', 'latin1'), flags: 2n }, { name: '.gopclntab', data: Buffer.alloc(16), flags: 2n }]);
  assert.equal(withElf(writeElf(noSym.bytes), readGoBuildInfo).goVersion, 'go1.11.13');
});

test('buildinfo: not a Go binary', () => {
  assert.throws(() => withElf('/bin/ls', readGoBuildInfo), (e: unknown) => {
    assert.ok(e instanceof CaptureError);
    assert.equal(e.code, 'ECAP_ELF');
    assert.equal(e.message, 'not a Go binary: /bin/ls has no .go.buildinfo section and no Go version string');
    return true;
  });
});

test('buildinfo of real Go binaries equals `go version -m`', { skip: goSkipReason() }, async (t) => {
  for (const variant of ['normal', 'stripped', 'pie', 'pie-stripped', 'arm64'] as const) {
    if (variantSkipReason(variant)) {
      t.diagnostic(`${variant} not tested: ${variantSkipReason(variant)}`);
      continue;
    }
    const program = variant === 'normal' || variant === 'stripped' ? 'tlsclient' : 'goinfo';
    const bin = await goFixture(program, variant);
    const info = withElf(bin, readGoBuildInfo);
    const m = spawnSync('go', ['version', '-m', bin], { encoding: 'utf8' }).stdout;
    assert.equal(info.goVersion, goToolchain()!.version, variant);
    assert.equal(m.split('\n')[0], `${bin}: ${info.goVersion}`);
    assert.equal(info.modulePath, `ecapture-ts/gofixtures/${program}`);
    const builds = m.split('\n').filter((l) => l.startsWith('\tbuild\t'));
    assert.equal(info.settings.size, builds.length, variant);
    assert.equal(info.settings.get('GOARCH'), variant === 'arm64' ? 'arm64' : 'amd64');
    assert.equal(info.settings.get('CGO_ENABLED'), '0');
    // go1.19 does not record -buildmode=pie (newer releases do): PIE detection must use the ELF type
    assert.ok([undefined, variant.startsWith('pie') ? 'pie' : 'exe'].includes(info.settings.get('-buildmode')), variant);
    assert.equal(info.settings.get('-ldflags'), variant.endsWith('stripped') ? '-s -w' : undefined);
    t.diagnostic(`${variant}: ${info.goVersion}, ${[...info.settings].map(([k, v]) => `${k}=${v}`).join(' ')}`);
  }
});
