/**
 * `ecapture nss` against real NSS programs on 127.0.0.1:
 *   - tstclnt (NSS client: PR_Send/PR_Recv on the socket, PR_Write for stdout) → openssl s_server, TLS 1.3 and 1.2:
 *     the request once (tstclnt retries PR_Send with the same buffer while the socket would block), the response
 *     as READ, and tstclnt's own stdout writes of that response never reported;
 *   - selfserv (NSS server: PR_Read in, PR_Writev out) ← curl: the NSS side captured, curl (OpenSSL) not;
 *   - a small NSPR/NSS program built here: plain-TCP PR_Write/PR_Send and file PR_Write are not reported, TLS is,
 *     also with a layer pushed on top of NSS's SSL layer (as Firefox's PSM layer does);
 *   - --pid on a running tstclnt;
 *   - keylog/pcap refused with the reason, bad paths.
 * selfserv binds every address: it gets a random high port and is stopped right after its test.
 * Assertions look at our own processes and ports only: other captures may run on this machine.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import {
  CLI, canRunBpf, cleanup, freePort, makeCert, needPrograms, parseTextEvents, run, sleep, startCapture, startProcess, tempDir, waitFor,
  type Proc, type TextEvent,
} from './harness.js';

let dir = '';
let db = '';
let port = 0;
let server: Proc | undefined;

const listening = (p: number, addr = '127.0.0.1'): boolean => spawnSync('sh', ['-c', `ss -ltn | grep -qE '(${addr}|\\*|0\\.0\\.0\\.0|\\[::\\]):${p}\\b'`]).status === 0;

before(async () => {
  dir = tempDir('ecap-nss-');
  chmodSync(dir, 0o755);
  const { cert, key } = makeCert(dir);
  for (const n of ['t13', 't12', 'tpid', 'other', 't10', 't11', 'late']) writeFileSync(join(dir, `${n}.txt`), `hello ${n}\n`);
  port = await freePort();
  server = startProcess('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', 'cert.pem', '-key', 'key.pem', '-WWW', '-quiet'], { cwd: dir });
  await waitFor('s_server', () => listening(port), 10_000);
  // an NSS database with the server certificate and key (selfserv), no password
  db = join(dir, 'nssdb');
  mkdirSync(db);
  if (spawnSync('sh', ['-c', 'command -v certutil && command -v pk12util']).status === 0) {
    const sh = (cmd: string, args: string[]): void => {
      const r = spawnSync(cmd, args, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
    };
    sh('certutil', ['-N', '-d', `sql:${db}`, '--empty-password']);
    sh('openssl', ['pkcs12', '-export', '-in', cert, '-inkey', key, '-name', 'localhost', '-out', join(dir, 'srv.p12'), '-passout', 'pass:x']);
    sh('pk12util', ['-i', join(dir, 'srv.p12'), '-d', `sql:${db}`, '-W', 'x']);
  }
});

after(async () => {
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGTERM');
    await server.exited;
  }
  cleanup(dir);
});

/** tstclnt sending one request read from a file (-A), then exiting when the server closes. */
async function tstclnt(path: string, extra: string[] = []): Promise<{ pid: number; code: number | string; stdout: string; stderr: string }> {
  const req = join(dir, `req-${path}`);
  writeFileSync(req, `GET /${path} HTTP/1.0\r\n\r\n`);
  return run('tstclnt', ['-d', `sql:${db}`, '-h', '127.0.0.1', '-p', String(port), '-o', '-A', req, ...extra], { timeoutMs: 20_000 });
}

const requestsFor = (events: TextEvent[], path: string): TextEvent[] =>
  events.filter((e) => e.dir === 'WRITE' && e.payload.toString('latin1').startsWith(`GET /${path} `));

const bytesOf = (events: TextEvent[], pid: number, dir: 'READ' | 'WRITE'): Buffer =>
  Buffer.concat(events.filter((e) => e.pid === pid && e.dir === dir).map((e) => e.payload));

test('nss text: tstclnt → s_server, TLS 1.3 and 1.2: request once, response as READ, stdout writes not reported', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'openssl', 'tstclnt', 'certutil')) return;
  const cap = await startCapture(['nss']);
  const c13 = await tstclnt('t13.txt');
  const c12 = await tstclnt('t12.txt', ['-V', 'tls1.2:tls1.2']);
  for (const [c, n] of [[c13, 't13'], [c12, 't12']] as const) {
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, new RegExp(`hello ${n}`), 'tstclnt printed the response (with PR_Write to stdout)');
  }
  await sleep(300);
  assert.equal(await cap.stop(), 0, cap.stderr());
  const events = parseTextEvents(cap.events());
  for (const [c, n] of [[c13, 't13'], [c12, 't12']] as const) {
    const reqs = requestsFor(events, `${n}.txt`);
    assert.equal(reqs.length, 1, `${n}: request captured exactly once (got ${reqs.length})`);
    const r = reqs[0]!;
    assert.equal(r.pid, c.pid, `${n}: pid`);
    assert.equal(r.comm, 'tstclnt');
    assert.equal(r.dst, `127.0.0.1:${port}`, `${n}: server in the tuple (${r.header})`);
    assert.ok(r.fd > 2, `${n}: the socket's fd (${r.fd})`);
    assert.match(r.header, /\[nspr 4\.\d+/, 'library named');
    assert.equal(bytesOf(events, c.pid, 'WRITE').toString('latin1'), `GET /${n}.txt HTTP/1.0\r\n\r\n`, `${n}: the request bytes once, nothing else written (no stdout)`);
    assert.match(bytesOf(events, c.pid, 'READ').toString('latin1'), new RegExp(`^HTTP/1\\.0 200 ok\\r\\n[\\s\\S]*hello ${n}\\n$`), `${n}: the response`);
    assert.ok(events.filter((e) => e.pid === c.pid).every((e) => e.src === `127.0.0.1:${port}` || e.dst === `127.0.0.1:${port}`), `${n}: only the TLS socket`);
  }
});

test('nss text: selfserv ← curl: the NSS server side is captured (PR_Read in, PR_Writev out), curl is not', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'selfserv', 'curl', 'certutil', 'pk12util')) return;
  const cap = await startCapture(['nss']);
  const sport = 20000 + Math.floor(Math.random() * 40000);
  const ss = startProcess('selfserv', ['-d', `sql:${db}`, '-n', 'localhost', '-p', String(sport), '-V', 'tls1.2:tls1.3']);
  try {
    await waitFor('selfserv', () => listening(sport, '127.0.0.1') || ss.child.exitCode !== null, 10_000);
    assert.equal(ss.child.exitCode, null, `selfserv runs: ${ss.stderr()}`);
    const curl = await run('curl', ['-sk', '--http1.1', `https://127.0.0.1:${sport}/selfserv-probe`]);
    assert.equal(curl.code, 0, curl.stderr);
    assert.match(curl.stdout, /GET \/selfserv-probe HTTP\/1\.1/, 'selfserv echoes the request');
    await sleep(300);
    assert.equal(await cap.stop(), 0, cap.stderr());
    const events = parseTextEvents(cap.events());
    const mine = events.filter((e) => e.pid === ss.pid);
    const reads = mine.filter((e) => e.dir === 'READ' && e.payload.toString('latin1').startsWith('GET /selfserv-probe '));
    assert.equal(reads.length, 1, `the request read once by selfserv (got ${reads.length})`);
    assert.equal(reads[0]!.comm, 'selfserv');
    assert.match(reads[0]!.dst, new RegExp(`:${sport}$`), 'selfserv is the local end');
    const written = bytesOf(events, ss.pid, 'WRITE').toString('latin1');
    assert.match(written, /^HTTP\/1\.0 200 OK\r\n/, 'its response (PR_Writev vectors, in order)');
    assert.match(written, /GET \/selfserv-probe HTTP\/1\.1/, 'with the echoed request');
    assert.ok(written.endsWith(curl.stdout), 'the body curl received is the end of what selfserv wrote');
    assert.equal(events.filter((e) => e.pid === curl.pid).length, 0, 'curl (OpenSSL) is not an NSS program');
  } finally {
    if (ss.child.exitCode === null) ss.child.kill('SIGTERM');
    await ss.exited;
    if (cap.child.exitCode === null) await cap.stop();
  }
});

/** NSPR/NSS client: plain TCP writes, a file write, then one HTTPS request (optionally with a layer above SSL). */
const NSPR_CLIENT_C = `#include <nspr.h>
#include <prio.h>
#include <nss.h>
#include <ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static SECStatus accept_any(void *arg, PRFileDesc *fd, PRBool checksig, PRBool isServer) { return SECSuccess; }

static PRIOMethods layer_methods;
static PRInt32 l_write(PRFileDesc *fd, const void *b, PRInt32 n) { return fd->lower->methods->write(fd->lower, b, n); }
static PRInt32 l_read(PRFileDesc *fd, void *b, PRInt32 n) { return fd->lower->methods->read(fd->lower, b, n); }
static PRInt32 l_send(PRFileDesc *fd, const void *b, PRInt32 n, PRIntn f, PRIntervalTime t) { return fd->lower->methods->send(fd->lower, b, n, f, t); }
static PRInt32 l_recv(PRFileDesc *fd, void *b, PRInt32 n, PRIntn f, PRIntervalTime t) { return fd->lower->methods->recv(fd->lower, b, n, f, t); }

static PRFileDesc *connect_to(int port) {
	PRFileDesc *s = PR_NewTCPSocket();
	PRNetAddr a;
	PR_InitializeNetAddr(PR_IpAddrLoopback, (PRUint16)port, &a);
	if (!s || PR_Connect(s, &a, PR_INTERVAL_NO_TIMEOUT) != PR_SUCCESS) {
		fprintf(stderr, "connect %d failed: %d\\n", port, PR_GetError());
		exit(2);
	}
	return s;
}

/* usage: nsprclient <plain tcp port> <tls port> <file> <path> <layered 0|1> */
int main(int argc, char **argv) {
	if (argc != 6) return 1;
	int plain = atoi(argv[1]), tls = atoi(argv[2]), layered = atoi(argv[5]);
	PR_Init(PR_USER_THREAD, PR_PRIORITY_NORMAL, 1);
	if (NSS_NoDB_Init(NULL) != SECSuccess) return 3;
	NSS_SetDomesticPolicy();
	/* plain TCP: PR_Write and PR_Send of bytes that are not TLS */
	PRFileDesc *p = connect_to(plain);
	const char *m1 = "PLAIN-PR_Write not TLS\\n", *m2 = "PLAIN-PR_Send not TLS\\n";
	PR_Write(p, m1, (PRInt32)strlen(m1));
	PR_Send(p, m2, (PRInt32)strlen(m2), 0, PR_INTERVAL_NO_TIMEOUT);
	PR_Close(p);
	/* a file */
	PRFileDesc *f = PR_Open(argv[3], PR_WRONLY | PR_CREATE_FILE | PR_TRUNCATE, 0600);
	const char *m3 = "FILE-PR_Write not TLS\\n";
	PR_Write(f, m3, (PRInt32)strlen(m3));
	PR_Close(f);
	/* TLS, optionally with a pass-through layer pushed on top of NSS's SSL layer (as Firefox's PSM does) */
	PRFileDesc *ssl = SSL_ImportFD(NULL, connect_to(tls));
	SSL_OptionSet(ssl, SSL_SECURITY, PR_TRUE);
	SSL_OptionSet(ssl, SSL_HANDSHAKE_AS_CLIENT, PR_TRUE);
	SSL_AuthCertificateHook(ssl, accept_any, NULL);
	SSL_SetURL(ssl, "localhost");
	SSL_ResetHandshake(ssl, PR_FALSE);
	if (layered) {
		layer_methods = *PR_GetDefaultIOMethods();
		layer_methods.file_type = PR_DESC_LAYERED;
		layer_methods.write = l_write;
		layer_methods.read = l_read;
		layer_methods.send = l_send;
		layer_methods.recv = l_recv;
		PRFileDesc *layer = PR_CreateIOLayerStub(PR_GetUniqueIdentity("test layer"), &layer_methods);
		if (PR_PushIOLayer(ssl, PR_TOP_IO_LAYER, layer) != PR_SUCCESS) return 6;
	}
	char req[256];
	snprintf(req, sizeof req, "GET /%s HTTP/1.0\\r\\n\\r\\n", argv[4]);
	if (PR_Write(ssl, req, (PRInt32)strlen(req)) <= 0) {
		fprintf(stderr, "write failed: %d\\n", PR_GetError());
		return 4;
	}
	char buf[4096];
	int n, total = 0;
	while ((n = PR_Read(ssl, buf, sizeof buf)) > 0) {
		fwrite(buf, 1, (size_t)n, stdout);
		total += n;
	}
	PR_Close(ssl);
	NSS_Shutdown();
	return total > 0 ? 0 : 5;
}
`;

test('nss text: plain-socket and file PR_Write/PR_Send are not TLS; TLS is captured, also under a layer pushed above SSL', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'openssl', 'gcc', 'pkg-config')) return;
  if (!existsSync('/usr/include/nss/ssl.h') || !existsSync('/usr/include/nspr/prio.h')) {
    assert.fail('NSS/NSPR headers missing: apt-get install libnss3-dev libnspr4-dev');
  }
  const src = join(dir, 'nsprclient.c');
  const bin = join(dir, 'nsprclient');
  writeFileSync(src, NSPR_CLIENT_C);
  const flags = spawnSync('pkg-config', ['--cflags', '--libs', 'nss'], { encoding: 'utf8' }).stdout.trim().split(/\s+/);
  const cc = spawnSync('gcc', ['-Wall', '-O1', '-o', bin, src, ...flags], { encoding: 'utf8' });
  assert.equal(cc.status, 0, `gcc: ${cc.stderr}`);
  // a plain TCP server that just collects what it gets
  let plainBytes = '';
  const sockets = new Set<Socket>();
  const plain = createServer((c) => {
    sockets.add(c);
    c.on('data', (d) => (plainBytes += d.toString('latin1')));
    c.on('close', () => sockets.delete(c));
  });
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', () => r()));
  const plainPort = (plain.address() as { port: number }).port;
  try {
    const cap = await startCapture(['nss']);
    const runs = [];
    for (const layered of ['0', '1']) {
      const r = await run(bin, [String(plainPort), String(port), join(dir, `nsprfile-${layered}.txt`), `t1${layered}.txt`, layered]);
      assert.equal(r.code, 0, `nsprclient layered=${layered}: ${r.stderr}`);
      runs.push(r);
    }
    await sleep(300);
    assert.equal(await cap.stop(), 0, cap.stderr());
    assert.match(plainBytes, /PLAIN-PR_Write not TLS[\s\S]*PLAIN-PR_Send not TLS/, 'the plain server got the plain writes');
    const all = cap.events().toString('latin1');
    assert.doesNotMatch(all, /PLAIN-PR_(Write|Send) not TLS/, 'plain TCP writes are not reported as TLS');
    assert.doesNotMatch(all, /FILE-PR_Write not TLS/, 'file writes are not reported');
    const events = parseTextEvents(cap.events());
    for (const [i, r] of runs.entries()) {
      const reqs = requestsFor(events, `t1${i}.txt`);
      assert.equal(reqs.length, 1, `layered=${i}: the TLS request once (got ${reqs.length})`);
      assert.equal(reqs[0]!.pid, r.pid);
      assert.equal(reqs[0]!.dst, `127.0.0.1:${port}`);
      assert.match(bytesOf(events, r.pid, 'READ').toString('latin1'), new RegExp(`hello t1${i}\\n$`), `layered=${i}: the response`);
      assert.ok(events.filter((e) => e.pid === r.pid).every((e) => e.src === `127.0.0.1:${port}` || e.dst === `127.0.0.1:${port}`), `layered=${i}: only the TLS connection`);
    }
  } finally {
    for (const c of sockets) c.destroy();
    await new Promise<void>((r) => plain.close(() => r()));
  }
});

test('nss text: --pid keeps a running tstclnt and excludes others', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'openssl', 'tstclnt', 'certutil')) return;
  // interactive tstclnt: connected and waiting for stdin
  const c = startProcess('tstclnt', ['-d', `sql:${db}`, '-h', '127.0.0.1', '-p', String(port), '-o']);
  try {
    await waitFor('tstclnt connected', () => /subject DN|Cipher|certificate/i.test(c.stderr() + c.stdout()) || c.child.exitCode !== null, 10_000);
    await sleep(200);
    const cap = await startCapture(['nss', '--pid', String(c.pid)]);
    const other = await tstclnt('other.txt');
    c.child.stdin!.write('GET /tpid.txt HTTP/1.0\r\n\r\n');
    await waitFor('response', () => /hello tpid/.test(c.stdout()), 10_000);
    await sleep(300);
    await cap.stop();
    const events = parseTextEvents(cap.events());
    assert.equal(requestsFor(events, 'tpid.txt').length, 1, `the chosen process is captured\n${cap.stderr()}`);
    assert.match(bytesOf(events, c.pid, 'READ').toString('latin1'), /hello tpid/);
    assert.equal(events.filter((e) => e.pid === other.pid).length, 0, 'the other tstclnt is not');
    assert.ok(events.every((e) => e.pid === c.pid));
  } finally {
    // tstclnt spins on stdin EOF instead of exiting: stop it ourselves
    if (c.child.exitCode === null) c.child.kill('SIGTERM');
    await c.exited;
  }
});

test('nss text: a program started later with its own libnspr4 copy (LD_LIBRARY_PATH) is found through libnss3 and hooked', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'openssl', 'tstclnt', 'certutil')) return;
  const lib = '/usr/lib/x86_64-linux-gnu/libnspr4.so';
  if (!existsSync(lib)) return;
  const priv = join(dir, 'priv');
  mkdirSync(priv, { recursive: true });
  copyFileSync(lib, join(priv, 'libnspr4.so')); // another inode: not hooked at start
  const cap = await startCapture(['nss']);
  assert.doesNotMatch(cap.stderr(), new RegExp(priv), 'not known at start');
  const c = startProcess('tstclnt', ['-d', `sql:${db}`, '-h', '127.0.0.1', '-p', String(port), '-o'], { env: { ...process.env, LD_LIBRARY_PATH: priv } });
  try {
    await waitFor('tstclnt connected', () => /subject DN|Cipher|certificate/i.test(c.stderr() + c.stdout()) || c.child.exitCode !== null, 10_000);
    await waitFor('the private copy hooked', () => cap.stderr().includes(`path=${priv}/libnspr4.so`), 5000);
    assert.match(readFileSync(`/proc/${c.pid}/maps`, 'latin1'), new RegExp(`${priv}/libnspr4\\.so`), 'tstclnt runs on the copy');
    c.child.stdin!.write('GET /late.txt HTTP/1.0\r\n\r\n');
    await waitFor('response', () => /hello late/.test(c.stdout()), 10_000);
    await sleep(300);
    await cap.stop();
    const events = parseTextEvents(cap.events());
    const reqs = requestsFor(events, 'late.txt');
    assert.equal(reqs.length, 1, `captured through the private copy\n${cap.stderr()}`);
    assert.equal(reqs[0]!.pid, c.pid);
  } finally {
    if (c.child.exitCode === null) c.child.kill('SIGTERM');
    await c.exited;
  }
});

test('nss: keys are refused with the reason; bad paths are one clear line with a hint and exit 1', async (t) => {
  if (!canRunBpf(t)) return;
  const cases: [string[], RegExp][] = [
    [['nss', '-m', 'keylog'], /-m keylog: not available for nss: NSS keeps TLS secrets inside its PKCS #11 token/],
    [['nspr', '-m', 'pcap'], /-m pcap: not available for nss/],
    [['nss', '--nspr', '/nonexistent/libnspr4.so'], /--nspr \/nonexistent\/libnspr4\.so: not an ELF file that exports PR_Write and PR_Read/],
    [['nss', '--nspr', '/bin/true'], /not an ELF file that exports PR_Write/],
    [['nss', '--pid', '4000000'], /--pid 4000000: no such process/],
    [['nss', '--pid', String(process.pid)], /maps no NSPR library/],
  ];
  const nss3 = '/usr/lib/x86_64-linux-gnu/libnss3.so';
  if (spawnSync('test', ['-e', nss3]).status === 0) cases.push([['nss', '--nspr', nss3], /hint: this NSS library does not carry NSPR: point --nspr at libnspr4\.so/]);
  for (const [args, re] of cases) {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 1, `${args.join(' ')}: exit 1 (${r.stderr})`);
    assert.match(r.stderr, re, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^hint: /m, `${args.join(' ')}: a hint`);
  }
});
