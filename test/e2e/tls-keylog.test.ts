/**
 * `ecapture tls -m keylog` against real programs on 127.0.0.1, checked by programs nobody here wrote: tcpdump
 * records the wire independently, and tshark decrypts that recording with our key log alone.
 *   - curl (TLS 1.2 and 1.3), python3 (urllib, SSL_read_ex/SSL_write_ex) and node (OpenSSL linked statically)
 *     against nginx;
 *   - bssl-tool client (BoringSSL, Android 13 layout) against openssl s_server, TLS 1.3 and 1.2;
 *   - the file: appended, 0600, readable while capturing, one line per secret, symlinks refused.
 * Assertions are about our own ports and paths only: other captures may run on this machine at the same time.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CLI, canRunBpf, cleanup, freePort, makeCert, needPrograms, run, sleep, startCapture, startProcess, tempDir, waitFor, type Proc,
} from './harness.js';

let dir = '';
let nginxPort = 0;
let sserverPort = 0;
let nginx: Proc | undefined;
let sserver: Proc | undefined;

const PY = '/usr/bin/python3';

function listening(port: number): boolean {
  return spawnSync('sh', ['-c', `ss -ltn | grep -q 127.0.0.1:${port}`]).status === 0;
}

function nginxConf(d: string, port: number): string {
  const conf = join(d, 'nginx.conf');
  writeFileSync(conf, `daemon off;
master_process off;
worker_processes 1;
pid ${d}/nginx.pid;
error_log ${d}/nginx-error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${d}/tmp-body;
  proxy_temp_path ${d}/tmp-proxy;
  fastcgi_temp_path ${d}/tmp-fcgi;
  uwsgi_temp_path ${d}/tmp-uwsgi;
  scgi_temp_path ${d}/tmp-scgi;
  server {
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${d}/cert.pem;
    ssl_certificate_key ${d}/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    root ${d}/www;
  }
}
`);
  return conf;
}

before(async () => {
  dir = tempDir('ecap-keylog-');
  chmodSync(dir, 0o755);
  makeCert(dir);
  mkdirSync(join(dir, 'www'));
  for (const n of ['curl12', 'curl13', 'python', 'node', 'bssl13', 'bssl12', 'live']) {
    writeFileSync(join(dir, 'www', `${n}.txt`), `hello ${n}\n`);
    writeFileSync(join(dir, `${n}.txt`), `hello ${n}\n`); // s_server -WWW serves from its cwd
  }
  nginxPort = await freePort();
  sserverPort = await freePort();
  if (spawnSync('sh', ['-c', 'command -v nginx']).status === 0) {
    nginx = startProcess('nginx', ['-c', nginxConf(dir, nginxPort), '-p', `${dir}/`, '-e', `${dir}/nginx-error.log`]);
    await waitFor('nginx', () => listening(nginxPort) || nginx!.child.exitCode !== null, 10_000);
  }
  sserver = startProcess('openssl', ['s_server', '-accept', `127.0.0.1:${sserverPort}`, '-cert', 'cert.pem', '-key', 'key.pem', '-WWW', '-quiet'], { cwd: dir });
  await waitFor('s_server', () => listening(sserverPort), 10_000);
});

after(async () => {
  for (const p of [nginx, sserver]) {
    if (p && p.child.exitCode === null) {
      p.child.kill('SIGTERM');
      await p.exited;
    }
  }
  cleanup(dir);
});

/** tcpdump on lo for one port, started and ready. */
async function tcpdump(port: number, file: string): Promise<Proc> {
  const p = startProcess('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-n', '-w', file, `tcp port ${port}`]);
  await waitFor('tcpdump', () => /listening on/.test(p.stderr()) || p.child.exitCode !== null, 10_000);
  assert.equal(p.child.exitCode, null, `tcpdump: ${p.stderr()}`);
  return p;
}

async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode === null) p.child.kill('SIGINT');
  await p.exited;
}

function tshark(args: string[]): string {
  const r = spawnSync('tshark', ['-n', ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `tshark ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

interface KeyLine {
  label: string;
  cr: string;
  secret: string;
}

function keyLines(file: string): KeyLine[] {
  return readFileSync(file, 'latin1')
    .split('\n')
    .map((l) => /^([A-Z_0-9]+) ([0-9a-f]{64}) ([0-9a-f]+)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ label: m[1]!, cr: m[2]!, secret: m[3]! }));
}

const TLS13_LABELS = ['CLIENT_HANDSHAKE_TRAFFIC_SECRET', 'SERVER_HANDSHAKE_TRAFFIC_SECRET', 'CLIENT_TRAFFIC_SECRET_0', 'SERVER_TRAFFIC_SECRET_0', 'EXPORTER_SECRET'];

/** client_random → TLS version (0x0303 / 0x0304) of every handshake in a recording (from the ServerHello). */
function handshakes(pcap: string): Map<string, number> {
  const out = new Map<string, number>();
  const hello = tshark(['-r', pcap, '-Y', 'tls.handshake.type == 1', '-T', 'fields', '-e', 'tcp.stream', '-e', 'tls.handshake.random']);
  const server = tshark(['-r', pcap, '-Y', 'tls.handshake.type == 2', '-T', 'fields', '-e', 'tcp.stream', '-e', 'tls.handshake.extensions.supported_version', '-e', 'tls.handshake.version']);
  const ver = new Map<string, number>();
  for (const l of server.trim().split('\n').filter(Boolean)) {
    const [stream, sv, v] = l.split('\t');
    ver.set(stream!, parseInt((sv || v)!.split(',')[0]!, 16));
  }
  for (const l of hello.trim().split('\n').filter(Boolean)) {
    const [stream, random] = l.split('\t');
    out.set(random!.replace(/:/g, ''), ver.get(stream!) ?? 0);
  }
  return out;
}

/** Every handshake of the recording has its secrets in the key log: CLIENT_RANDOM for TLS 1.2, five lines for 1.3. */
function assertKeysFor(pcap: string, keys: KeyLine[]): void {
  const hs = handshakes(pcap);
  assert.ok(hs.size > 0, 'the recording has handshakes');
  for (const [cr, v] of hs) {
    const labels = new Set(keys.filter((k) => k.cr === cr).map((k) => k.label));
    if (v === 0x0304) assert.deepEqual([...labels].sort(), [...TLS13_LABELS].sort(), `TLS 1.3 secrets of ${cr}`);
    else assert.deepEqual([...labels], ['CLIENT_RANDOM'], `TLS 1.2 secret of ${cr} (version 0x${v.toString(16)})`);
  }
  const seen = new Set<string>();
  for (const k of keys) {
    const id = `${k.label} ${k.cr}`;
    assert.ok(!seen.has(id), `one line per secret (${id})`);
    seen.add(id);
  }
}

test('keylog: curl (TLS 1.2, 1.3), python3 and node → nginx; tshark decrypts an independent tcpdump recording with our key log', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'nginx', 'curl', 'tcpdump', 'tshark')) return;
  assert.equal(nginx?.child.exitCode, null, 'nginx runs');
  const keys = join(dir, 'keys.log');
  const pcap = join(dir, 'nginx.pcap');
  const td = await tcpdump(nginxPort, pcap);
  const cap = await startCapture(['tls', '-m', 'keylog', '-k', keys]);
  const url = (p: string): string => `https://127.0.0.1:${nginxPort}/${p}`;
  const c12 = await run('curl', ['-sk', '--http1.1', '--tls-max', '1.2', url('curl12.txt')]);
  const c13 = await run('curl', ['-sk', '--http1.1', '--tlsv1.3', url('curl13.txt')]);
  const py = await run(PY, ['-c', `import ssl,urllib.request as u;c=ssl._create_unverified_context();print(u.urlopen("${url('python.txt')}",context=c).read().decode(),end="")`]);
  const nd = await run(process.execPath, ['-e', `require('https').get('${url('node.txt')}',{rejectUnauthorized:false},r=>{r.pipe(process.stdout);r.on('end',()=>process.exit(0))})`]);
  for (const [r, n] of [[c12, 'curl12'], [c13, 'curl13'], [py, 'python'], [nd, 'node']] as const) {
    assert.equal(r.code, 0, `${n}: ${r.stderr}`);
    assert.equal(r.stdout, `hello ${n}\n`);
  }
  // readable while the capture runs: curl's TLS 1.2 secret is there before we stop
  await waitFor('key lines', () => existsSync(keys) && keyLines(keys).some((k) => k.label === 'CLIENT_RANDOM'), 5000);
  await sleep(300);
  await stop(td);
  assert.equal(await cap.stop(), 0, cap.stderr());
  assert.equal((statSync(keys).mode & 0o777).toString(8), '600', 'the key log is 0600');
  const lines = keyLines(keys);
  assertKeysFor(pcap, lines);
  const uris = tshark(['-r', pcap, '-o', `tls.keylog_file:${keys}`, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri']).split('\n');
  for (const p of ['/curl12.txt', '/curl13.txt', '/python.txt', '/node.txt']) assert.ok(uris.includes(p), `tshark decrypts GET ${p} (got ${uris.join(' ')})`);
  const codes = tshark(['-r', pcap, '-o', `tls.keylog_file:${keys}`, '-Y', 'http.response.code == 200', '-T', 'fields', '-e', 'http.response.code']);
  assert.ok(codes.trim().split('\n').length >= 4, 'and the four 200 responses');
  const none = tshark(['-r', pcap, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri']);
  assert.equal(none.trim(), '', 'without the key log nothing is decrypted');
  // the keys also went to the event output as records
  assert.match(cap.events().toString('latin1'), /^CLIENT_RANDOM [0-9a-f]{64} [0-9a-f]{96}$/m);
  assert.match(cap.stderr(), /using the 3\.0\.0 layout|hooked/, 'layouts reported');
});

test('keylog: BoringSSL (bssl-tool client) → openssl s_server, TLS 1.3 and 1.2, decrypted by tshark', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'bssl-tool', 'tcpdump', 'tshark')) return;
  const keys = join(dir, 'bssl-keys.log');
  const pcap = join(dir, 'bssl.pcap');
  const td = await tcpdump(sserverPort, pcap);
  const cap = await startCapture(['tls', '-m', 'keylog', '-k', keys]);
  assert.match(cap.stderr(), /lib=boringssl .*layout=boringssl_a_13/, 'BoringSSL hooked with the a13 layout');
  for (const [name, extra] of [['bssl13', []], ['bssl12', ['-max-version', 'tls1.2']]] as const) {
    const c = startProcess('bssl-tool', ['client', '-connect', `127.0.0.1:${sserverPort}`, ...extra]);
    c.child.stdin!.write(`GET /${name}.txt HTTP/1.0\r\n\r\n`);
    await waitFor(`bssl-tool ${name}`, () => c.stdout().includes(`hello ${name}`) || c.child.exitCode !== null, 10_000);
    assert.match(c.stdout(), new RegExp(`hello ${name}`), `${name}: ${c.stderr()}`);
    c.child.stdin!.end();
    const timer = setTimeout(() => c.child.kill('SIGKILL'), 5000);
    await c.exited;
    clearTimeout(timer);
  }
  await sleep(300);
  await stop(td);
  assert.equal(await cap.stop(), 0, cap.stderr());
  const lines = keyLines(keys);
  assertKeysFor(pcap, lines);
  const uris = tshark(['-r', pcap, '-o', `tls.keylog_file:${keys}`, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri']).split('\n');
  assert.ok(uris.includes('/bssl13.txt'), `TLS 1.3 request decrypted (${uris.join(' ')})`);
  assert.ok(uris.includes('/bssl12.txt'), `TLS 1.2 request decrypted (${uris.join(' ')})`);
});

test('keylog: the file is appended (not truncated), tightened to 0600; symlinks, unwritable paths and unknown --ssl_version are refused up front', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'curl')) return;
  const keys = join(dir, 'existing.log');
  writeFileSync(keys, '# kept from before\n', { mode: 0o644 });
  chmodSync(keys, 0o644);
  const cap = await startCapture(['tls', '-m', 'key', '-k', keys]);
  const r = await run('curl', ['-sk', '--tls-max', '1.2', `https://127.0.0.1:${sserverPort}/live.txt`]);
  assert.equal(r.code, 0, r.stderr);
  await waitFor('a key line', () => keyLines(keys).length > 0, 5000);
  assert.equal(await cap.stop(), 0, cap.stderr());
  const text = readFileSync(keys, 'latin1');
  assert.ok(text.startsWith('# kept from before\n'), 'appended');
  assert.equal((statSync(keys).mode & 0o777).toString(8), '600');

  const link = join(dir, 'link.log');
  symlinkSync(join(dir, 'target.log'), link);
  const cases: [string[], RegExp][] = [
    [['tls', '-m', 'keylog', '-k', link], /symbolic link; refusing to follow it/],
    [['tls', '-m', 'keylog', '-k', '/nonexistent-dir/keys.log'], /open key log file \/nonexistent-dir\/keys.log/],
    [['tls', '-m', 'keylog', '-k', join(dir, 'k2.log'), '--ssl_version', 'openssl banana'], /--ssl_version "openssl banana" is not understood/],
  ];
  for (const [args, re] of cases) {
    const rr = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    assert.equal(rr.status, 1, `${args.join(' ')}: exit 1 (${rr.stderr})`);
    assert.match(rr.stderr, re, args.join(' '));
    assert.doesNotMatch(rr.stderr, /INF hooked|capture started/, 'nothing was attached');
  }
  assert.ok(!existsSync(join(dir, 'target.log')), 'the symlink target was not created');
});
