/**
 * `ecapture gnutls` against real programs on 127.0.0.1 (openssl s_server as the server):
 *   - text: gnutls-cli and wget, request and response with pid, comm and tuple; a 300 KB body whole; --pid;
 *   - keylog: TLS 1.3, 1.2 and a resumed 1.2 session (gnutls-cli, wget) with both key methods; the key log equals
 *     what GnuTLS itself writes to SSLKEYLOGFILE (plus the resumed session, which GnuTLS does not log), and tshark
 *     decrypts its own independent recording of the traffic with it;
 *   - pcap: a pcapng file that tshark decrypts on its own (Decryption Secrets Blocks), TLS 1.3 and 1.2;
 *   - tls and gnutls captures at the same time: curl (which maps libssl and libgnutls) is reported once, by tls;
 *     wget once, by gnutls;
 *   - bad input: one clear line and exit 1.
 * Assertions look at our own processes, ports and paths only: other captures may run on this machine.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CLI, canRunBpf, cleanup, freePort, makeCert, needPrograms, parseTextEvents, run, sleep, startCapture, startProcess, tempDir, waitFor,
  type Proc, type TextEvent,
} from './harness.js';

let dir = '';
let port = 0;
let server: Proc | undefined;
let big = Buffer.alloc(0);

const LIB = '/usr/lib/x86_64-linux-gnu/libgnutls.so.30';

before(async () => {
  dir = tempDir('ecap-gnutls-');
  chmodSync(dir, 0o755);
  makeCert(dir);
  big = Buffer.from(randomBytes(225 * 1024).toString('base64').replace(/(.{76})/g, '$1\n'));
  writeFileSync(join(dir, 'big.txt'), big);
  for (const n of ['gcli', 'wget', 'pid', 'other', 'k13', 'k12', 'kwget', 'dupcurl', 'dupwget', 'late', 'perf', 'uid']) writeFileSync(join(dir, `${n}.txt`), `hello ${n}\n`);
  port = await freePort();
  server = startProcess('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', 'cert.pem', '-key', 'key.pem', '-WWW', '-quiet'], { cwd: dir });
  await waitFor('s_server', () => spawnSync('sh', ['-c', `ss -ltn | grep -q 127.0.0.1:${port}`]).status === 0, 10_000);
});

after(async () => {
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGTERM');
    await server.exited;
  }
  if (process.env.ECAP_KEEP_TEST_DIR) console.log('kept', dir);
  else cleanup(dir);
});

/** gnutls-cli sending one HTTP/1.0 request from stdin. */
async function gnutlsCli(path: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ pid: number; code: number | string; stdout: string; stderr: string }> {
  const p = startProcess('gnutls-cli', ['--insecure', '--port', String(port), ...extra, '127.0.0.1'], { env: { ...process.env, ...env } });
  p.child.stdin!.end(`GET /${path} HTTP/1.0\r\n\r\n`);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 20_000);
  const code = await p.exited;
  clearTimeout(timer);
  return { pid: p.pid, code, stdout: p.stdout(), stderr: p.stderr() };
}

const wget = (path: string): ReturnType<typeof run> =>
  run('wget', ['-q', '--no-check-certificate', '-O', '-', `https://127.0.0.1:${port}/${path}`]);

function requestsFor(events: TextEvent[], path: string): TextEvent[] {
  return events.filter((e) => e.dir === 'WRITE' && e.payload.toString('latin1').startsWith(`GET /${path} `));
}

function readStream(events: TextEvent[], pid: number): Buffer {
  return Buffer.concat(events.filter((e) => e.pid === pid && e.dir === 'READ' && e.src === `127.0.0.1:${port}`).map((e) => e.payload));
}

test('gnutls text: gnutls-cli and wget, request and response with pid, comm and tuple; a 300 KB body whole', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'openssl', 'gnutls-cli', 'wget')) return;
  const cap = await startCapture(['gnutls']);
  const cli = await gnutlsCli('gcli.txt');
  const w = await wget('wget.txt');
  const wb = await run('wget', ['-q', '--no-check-certificate', '-O', join(dir, 'big.out'), `https://127.0.0.1:${port}/big.txt`]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /hello gcli/);
  assert.equal(w.code, 0, w.stderr);
  assert.equal(wb.code, 0, wb.stderr);
  await sleep(300);
  assert.equal(await cap.stop(), 0, cap.stderr());
  const events = parseTextEvents(cap.events());
  for (const [path, proc, comm] of [['gcli.txt', cli, 'gnutls-cli'], ['wget.txt', w, 'wget'], ['big.txt', wb, 'wget']] as const) {
    const reqs = requestsFor(events, path);
    assert.equal(reqs.length, 1, `request for ${path} captured exactly once (got ${reqs.length})`);
    const r = reqs[0]!;
    assert.equal(r.pid, proc.pid, `${path}: pid of the client`);
    assert.equal(r.comm, comm);
    assert.equal(r.dst, `127.0.0.1:${port}`, `${path}: server in the tuple (${r.header})`);
    assert.match(r.src, /^127\.0\.0\.1:\d+$/);
    assert.ok(r.fd > 2, `${path}: a real fd (${r.fd})`);
    assert.match(r.header, /\[gnutls 3\.\d+\.\d+\]$/, 'library named');
  }
  assert.match(readStream(events, cli.pid).toString('latin1'), /^HTTP\/1\.0 200 ok\r\n[\s\S]*hello gcli\n$/, 'gnutls-cli response');
  assert.match(readStream(events, w.pid).toString('latin1'), /hello wget\n$/, 'wget response');
  const s = readStream(events, wb.pid);
  const body = s.subarray(s.indexOf('\r\n\r\n') + 4);
  assert.equal(body.length, big.length, 'the whole 300 KB body');
  assert.equal(createHash('sha256').update(body).digest('hex'), createHash('sha256').update(big).digest('hex'));
  assert.match(cap.stderr(), /lost 0 events/);
});

test('gnutls text: --pid keeps a running gnutls-cli and excludes other programs', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'openssl', 'gnutls-cli', 'wget')) return;
  const cli = startProcess('gnutls-cli', ['--insecure', '--port', String(port), '127.0.0.1']);
  await waitFor('gnutls-cli handshake', () => /Handshake was completed|Simple Client Mode/.test(cli.stdout() + cli.stderr()) || cli.child.exitCode !== null, 10_000);
  const cap = await startCapture(['gnutls', '--pid', String(cli.pid)]);
  const other = await wget('other.txt');
  cli.child.stdin!.end('GET /pid.txt HTTP/1.0\r\n\r\n');
  await cli.exited;
  await sleep(300);
  await cap.stop();
  const events = parseTextEvents(cap.events());
  assert.equal(requestsFor(events, 'pid.txt').length, 1, `the chosen process is captured\n${cap.stderr()}`);
  assert.match(readStream(events, cli.pid).toString('latin1'), /hello pid/);
  assert.equal(events.filter((e) => e.pid === other.pid).length, 0, 'wget is not');
  assert.ok(events.every((e) => e.pid === cli.pid), 'only the chosen pid appears');
});

test('gnutls text: --uid keeps one user and excludes the others', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'openssl', 'wget', 'setpriv')) return;
  const cap = await startCapture(['gnutls', '--uid', '65534']);
  const nobody = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'wget', '-q', '--no-check-certificate', '-O', '-', `https://127.0.0.1:${port}/uid.txt`], { env: { ...process.env, HOME: '/nonexistent' } });
  const root = await wget('other.txt');
  assert.equal(nobody.code, 0, nobody.stderr);
  assert.equal(root.code, 0, root.stderr);
  await sleep(300);
  await cap.stop();
  const events = parseTextEvents(cap.events());
  const reqs = requestsFor(events, 'uid.txt');
  assert.equal(reqs.length, 1, 'the other user is captured');
  assert.equal(reqs[0]!.uid, 65534);
  assert.equal(events.filter((e) => e.pid === root.pid).length, 0, 'root is not');
});

interface KeyLine {
  label: string;
  cr: string;
  secret: string;
}

function keyLines(text: string): KeyLine[] {
  return text
    .split('\n')
    .map((l) => /^([A-Z_0-9]+) ([0-9a-f]{64}) ([0-9a-f]+)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ label: m[1]!, cr: m[2]!, secret: m[3]! }));
}

const lineSet = (ks: KeyLine[]): string[] => ks.map((k) => `${k.label} ${k.cr} ${k.secret}`).sort();

function tshark(args: string[]): string {
  const r = spawnSync('tshark', ['-n', ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `tshark ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

for (const method of ['auto', 'handshake'] as const) {
  test(`gnutls keylog (${method}): TLS 1.3 and 1.2 secrets as GnuTLS's own SSLKEYLOGFILE has them, plus the resumed TLS 1.2 session it misses; tshark decrypts its own independent recording`, async (t) => {
    if (!canRunBpf(t) || !needPrograms(t, 'openssl', 'gnutls-cli', 'wget', 'tshark')) return;
    const keys = join(dir, `keys-${method}.log`);
    const oracle = join(dir, `oracle-${method}.log`);
    const pcap = join(dir, `gnutls-${method}.pcap`);
    // the independent recording: tshark (dumpcap) on lo, our port only
    const td = startProcess('tshark', ['-n', '-i', 'lo', '-f', `tcp port ${port}`, '-w', pcap]);
    await waitFor('tshark capturing', () => /Capturing on/.test(td.stderr()) || td.child.exitCode !== null, 15_000);
    assert.equal(td.child.exitCode, null, `tshark: ${td.stderr()}`);
    const cap = await startCapture(['gnutls', '-m', 'keylog', '-k', keys, '--gnutls-keys', method]);
    assert.match(cap.stderr(), method === 'auto' ? /keys="key log hook at file offset 0x[0-9a-f]+ \+ gnutls_handshake for resumed TLS 1\.2 sessions"/ : /keys="gnutls_handshake \+ layout 3_\d+_\d+"/, 'method reported');
    const c13 = await gnutlsCli('k13.txt', [], { SSLKEYLOGFILE: oracle });
    // TLS 1.2, then a second connection resuming the session; the request goes over the resumed one
    const c12 = await gnutlsCli('k12.txt', ['--priority', 'NORMAL:-VERS-TLS1.3', '--resume'], { SSLKEYLOGFILE: oracle });
    assert.match(c12.stdout, /This is a resumed session/, 'gnutls-cli resumed');
    const w = await wget('kwget.txt');
    for (const r of [c13, c12, w]) assert.equal(r.code, 0, r.stderr);
    await waitFor('key lines', () => existsSync(keys) && keyLines(readFileSync(keys, 'latin1')).length >= 12, 5000).catch(() => undefined);
    await sleep(700); // dumpcap hands packets over at its 250 ms read timeout
    td.child.kill('SIGINT');
    await td.exited;
    assert.match(td.stderr(), /\b(\d{2,}) packets? captured/, `tshark recorded: ${td.stderr()}`);
    assert.equal(await cap.stop(), 0, cap.stderr());
    assert.equal((statSync(keys).mode & 0o777).toString(8), '600', 'the key log is 0600');
    const ours = keyLines(readFileSync(keys, 'latin1'));
    const theirs = keyLines(readFileSync(oracle, 'latin1'));
    assert.equal(theirs.length, 6, 'GnuTLS wrote 5 TLS 1.3 lines and 1 TLS 1.2 line (not the resumed session)');
    const crs = new Set(theirs.map((k) => k.cr));
    assert.deepEqual(lineSet(ours.filter((k) => crs.has(k.cr))), lineSet(theirs), 'gnutls-cli: exactly what GnuTLS itself logs');
    assert.ok(theirs.some((k) => k.label === 'CLIENT_RANDOM') && theirs.some((k) => k.label === 'CLIENT_TRAFFIC_SECRET_0'), 'both versions');
    // every handshake of the recording (the resumed one and wget's too) has its secrets, once
    const hello = tshark(['-r', pcap, '-Y', 'tls.handshake.type == 1', '-T', 'fields', '-e', 'tls.handshake.random']).trim().split('\n').filter(Boolean);
    assert.equal(hello.length, 4, 'four handshakes recorded');
    for (const r of hello) assert.ok(ours.some((k) => k.cr === r.replace(/:/g, '')), `secrets for client random ${r}`);
    const extra = ours.filter((k) => !crs.has(k.cr) && k.label === 'CLIENT_RANDOM');
    assert.equal(extra.length, 1, 'the resumed TLS 1.2 session, which SSLKEYLOGFILE lacks');
    assert.equal(new Set(ours.map((k) => `${k.label} ${k.cr}`)).size, ours.length, 'one line per secret');
    const uris = tshark(['-r', pcap, '-o', `tls.keylog_file:${keys}`, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri']).split('\n');
    for (const p of ['/k13.txt', '/k12.txt', '/kwget.txt']) assert.ok(uris.includes(p), `tshark decrypts GET ${p} (got ${uris.join(' ')})`);
    // the responses too (s_server's HTTP/1.0 replies end at close, so read the decrypted streams, not HTTP PDUs)
    const streams = tshark(['-r', pcap, '-Y', 'tls.handshake.type == 1', '-T', 'fields', '-e', 'tcp.stream']).trim().split('\n');
    const plain = streams.map((st) => tshark(['-r', pcap, '-o', `tls.keylog_file:${keys}`, '-q', '-z', `follow,tls,ascii,${st}`])).join('\n');
    for (const n of ['k13', 'k12', 'kwget']) assert.match(plain, new RegExp(`GET /${n}\\.txt HTTP/1\\.[01][\\s\\S]*hello ${n}\\n`), `request and response ${n} decrypted`);
    assert.equal(tshark(['-r', pcap, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri']).trim(), '', 'without the key log nothing is decrypted');
    // the keys also went to the event output as records, with who
    const ev = cap.events().toString('latin1');
    assert.match(ev, /^CLIENT_RANDOM [0-9a-f]{64} [0-9a-f]{96}$/m);
    assert.match(ev, /^SERVER_HANDSHAKE_TRAFFIC_SECRET [0-9a-f]{64} [0-9a-f]{64,96}$/m);
  });
}

test('gnutls pcap: the pcapng file alone decrypts in tshark (DSBs before the packets), TLS 1.3 and 1.2', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'openssl', 'gnutls-cli', 'wget', 'tshark', 'capinfos')) return;
  const out = join(dir, 'gnutls.pcapng');
  const keys = join(dir, 'pcap-keys.log');
  const cap = await startCapture(['gnutls', '-m', 'pcap', '-i', 'lo', '-w', out, '-k', keys, 'tcp', 'port', String(port)]);
  const c13 = await gnutlsCli('k13.txt');
  const c12 = await gnutlsCli('k12.txt', ['--priority', 'NORMAL:-VERS-TLS1.3']);
  const w = await wget('kwget.txt');
  for (const r of [c13, c12, w]) assert.equal(r.code, 0, r.stderr);
  await sleep(300);
  assert.equal(await cap.stop(), 0, cap.stderr());
  assert.match(cap.stderr(), /pcapng written .*packets=\d+ secrets_blocks=\d+/);
  const info = spawnSync('capinfos', [out], { encoding: 'utf8' }).stdout;
  assert.match(info, /Number of decryption secrets in file: (1[1-9]|[2-9]\d)/, `DSBs for three handshakes (5 + 1 + 5 lines)\n${info}`);
  const streams = tshark(['-r', out, '-Y', 'tls.handshake.type == 1', '-T', 'fields', '-e', 'tcp.stream']).trim().split('\n').filter(Boolean);
  assert.equal(streams.length, 3, 'three handshakes, only of our port (filter)');
  const plain = streams.map((st) => tshark(['-r', out, '-q', '-z', `follow,tls,ascii,${st}`])).join('\n');
  for (const n of ['k13', 'k12', 'kwget']) assert.match(plain, new RegExp(`GET /${n}\\.txt HTTP/1\\.[01][\\s\\S]*hello ${n}\\n`), `${n} decrypted from the file alone`);
  assert.equal(tshark(['-r', out, '-Y', `tcp.port != ${port}`]).trim(), '', 'nothing but our port');
});

test('gnutls text: a program started later with its own libgnutls copy (LD_LIBRARY_PATH) is found and hooked', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'openssl', 'gnutls-cli') || !existsSync(LIB)) return;
  const priv = join(dir, 'priv');
  mkdirSync(priv, { recursive: true });
  copyFileSync(LIB, join(priv, 'libgnutls.so.30')); // another inode: not hooked at start
  const cap = await startCapture(['gnutls']);
  assert.doesNotMatch(cap.stderr(), new RegExp(priv), 'not known at start');
  const cli = startProcess('gnutls-cli', ['--insecure', '--port', String(port), '127.0.0.1'], { env: { ...process.env, LD_LIBRARY_PATH: priv } });
  await waitFor('gnutls-cli handshake', () => /Handshake was completed|Simple Client Mode/.test(cli.stdout() + cli.stderr()) || cli.child.exitCode !== null, 10_000);
  await waitFor('the private copy hooked', () => cap.stderr().includes(`path=${priv}/libgnutls.so.30`), 5000);
  cli.child.stdin!.end('GET /late.txt HTTP/1.0\r\n\r\n');
  await cli.exited;
  await sleep(300);
  await cap.stop();
  const events = parseTextEvents(cap.events());
  const reqs = requestsFor(events, 'late.txt');
  assert.equal(reqs.length, 1, `captured through the private copy\n${cap.stderr()}`);
  assert.equal(reqs[0]!.pid, cli.pid);
  assert.match(readStream(events, cli.pid).toString('latin1'), /hello late/);
});

test('tls and gnutls at the same time: curl (maps libssl and libgnutls) once, in tls; wget once, in gnutls', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'openssl', 'curl', 'wget', 'ldd')) return;
  assert.match(spawnSync('ldd', ['/usr/bin/curl'], { encoding: 'utf8' }).stdout, /libgnutls\.so/, 'precondition: curl maps libgnutls');
  const tls = await startCapture(['tls']);
  const gnu = await startCapture(['gnutls']);
  const curl = await run('curl', ['-sk', '--http1.1', `https://127.0.0.1:${port}/dupcurl.txt`]);
  const w = await wget('dupwget.txt');
  assert.equal(curl.code, 0, curl.stderr);
  assert.equal(w.code, 0, w.stderr);
  await sleep(300);
  await gnu.stop();
  await tls.stop();
  const te = parseTextEvents(tls.events());
  const ge = parseTextEvents(gnu.events());
  const tc = requestsFor(te, 'dupcurl.txt');
  assert.equal(tc.length, 1, 'curl request once in tls');
  assert.equal(tc[0]!.pid, curl.pid);
  assert.equal(requestsFor(ge, 'dupcurl.txt').length, 0, 'curl request not in gnutls');
  assert.equal(ge.filter((e) => e.pid === curl.pid).length, 0, 'no gnutls event for curl at all');
  const gw = requestsFor(ge, 'dupwget.txt');
  assert.equal(gw.length, 1, 'wget request once in gnutls');
  assert.equal(gw[0]!.pid, w.pid);
  assert.equal(te.filter((e) => e.pid === w.pid).length, 0, 'no tls event for wget');
});

test('gnutls, nss: the objects load on the fallback paths (no bpf_loop, perf buffer); the perf-buffer path captures', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'openssl', 'gnutls-cli')) return;
  const { LoadedObject, rodata } = await import('../../src/bpf/object.js');
  for (const stem of ['tls/gnutls', 'tls/nss']) {
    for (const [loop, perf] of [[0, 0], [0, 1], [1, 1]] as const) {
      const o = LoadedObject.load(stem, { rodata: { have_bpf_loop: rodata.u32(loop), use_perfbuf: rodata.u32(perf) }, ...(perf ? { autocreate: { events_rb: false } } : {}) });
      o.close();
    }
  }
  const cap = await startCapture(['gnutls'], { env: { ECAPTURE_FORCE_PERFBUF: '1' } });
  const cli = await gnutlsCli('perf.txt');
  assert.equal(cli.code, 0, cli.stderr);
  await sleep(300);
  assert.equal(await cap.stop(), 0, cap.stderr());
  const events = parseTextEvents(cap.events());
  assert.equal(requestsFor(events, 'perf.txt').length, 1, 'captured through the perf buffer');
  assert.match(readStream(events, cli.pid).toString('latin1'), /hello perf/);
});

/** Loaded BPF programs of the gnutls and nss objects (kernel names are cut to 15 characters). */
function ourPrograms(): string[] {
  const r = spawnSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) return [];
  return (JSON.parse(r.stdout) as { name?: string }[]).map((p) => p.name ?? '').filter((n) => /^(uprobe_gnutls|uretprobe_gnut|uprobe_pr_|uretprobe_pr_)/.test(n));
}

test('gnutls, nss: after SIGINT nothing of ours stays loaded or attached (text, keylog, pcap; TC cleanup is the packet capture\'s, tested with tls)', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'bpftool')) return;
  for (const args of [['gnutls'], ['gnutls', '-m', 'keylog', '-k', join(dir, 'detach-keys.log')], ['gnutls', '-m', 'pcap', '-i', 'lo', '-w', join(dir, 'detach.pcapng'), '-k', join(dir, 'detach-keys2.log')], ['nss']]) {
    const before = ourPrograms().length;
    const cap = await startCapture(args);
    const perfDuring = JSON.parse(spawnSync('bpftool', ['-j', 'perf', 'list'], { encoding: 'utf8' }).stdout || '[]') as { pid: number }[];
    assert.ok(perfDuring.some((p) => p.pid === cap.pid), `${args.join(' ')}: uprobes attached while capturing`);
    assert.ok(ourPrograms().length > before, `${args.join(' ')}: programs loaded while capturing`);
    assert.equal(await cap.stop(), 0, cap.stderr());
    const perf = JSON.parse(spawnSync('bpftool', ['-j', 'perf', 'list'], { encoding: 'utf8' }).stdout || '[]') as { pid: number }[];
    assert.deepEqual(perf.filter((p) => p.pid === cap.pid), [], `${args.join(' ')}: no uprobe/tracepoint of ours stays attached`);
    await waitFor(`${args.join(' ')}: programs unloaded`, () => ourPrograms().length <= before, 5000);
  }
});

test('gnutls: bad input is one clear line with a hint and exit 1', async (t) => {
  if (!canRunBpf(t)) return;
  const d = tempDir();
  const notElf = join(d, 'x.so');
  writeFileSync(notElf, 'not an elf');
  const link = join(d, 'keys-link.log');
  symlinkSync('/etc/hostname', link);
  const cases: [string[], RegExp][] = [
    [['gnutls', '--gnutls', '/nonexistent/libgnutls.so.30'], /--gnutls \/nonexistent\/libgnutls\.so\.30: not an ELF file that exports gnutls_record_send/],
    [['gnutls', '--gnutls', notElf], /not an ELF file that exports gnutls_record_send/],
    [['gnu', '--gnutls', '/bin/true'], /not an ELF file that exports gnutls_record_send/],
    [['gnutls', '--pid', '4000000'], /--pid 4000000: no such process/],
    [['gnutls', '--pid', String(process.pid)], /maps no GnuTLS library/],
    [['gnutls', '-m', 'pcap', '-i', 'nosuch0'], /-i nosuch0: no such network interface/],
    [['gnutls', '-m', 'pcap', '-i', 'lo', 'tcp', 'port'], /pcap filter "tcp port": can't parse filter expression/],
    [['gnutls', '-m', 'keylog', '--ssl_version', 'openssl 3.0.2'], /--ssl_version openssl 3\.0\.2: not a GnuTLS version/],
    [['gnutls', '-m', 'keylog', '-k', link], /symbolic link; refusing to follow it/],
  ];
  if (existsSync(LIB)) {
    cases.push([['gnutls', '-m', 'keylog', '--gnutls', LIB, '--gnutls-keys', 'handshake', '--ssl_version', '9.9.9'], /cannot get its TLS secrets: no struct offsets for GnuTLS 9\.9\.9/]);
  }
  for (const [args, re] of cases) {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 1, `${args.join(' ')}: exit 1 (${r.stderr})`);
    assert.match(r.stderr, re, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^hint: /m, `${args.join(' ')}: a hint says what to do`);
  }
  assert.equal(readFileSync('/etc/hostname', 'utf8').length > 0, true, 'the symlink target is untouched');
  cleanup(d);
});
