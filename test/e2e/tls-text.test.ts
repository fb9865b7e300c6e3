/**
 * `ecapture tls` in text mode against real programs on 127.0.0.1: openssl s_server -WWW serving a 300 KB
 * file; curl, python3 (urllib, SSL_read_ex/SSL_write_ex) and node (OpenSSL linked statically) fetch it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  CLI, canRunBpf, cleanup, freePort, makeCert, needPrograms, ourLoadedPrograms, parseTextEvents, run, sleep,
  startCapture, startProcess, tempDir, waitFor, type Proc, type TextEvent,
} from './harness.js';

let dir = '';
let port = 0;
let server: Proc | undefined;
let body = Buffer.alloc(0);
let sha = '';

const PY = '/usr/bin/python3';

before(async () => {
  dir = tempDir();
  chmodSync(dir, 0o755);
  makeCert(dir);
  // printable body (so the text output carries it unchanged), 300 KB, unique
  body = Buffer.from(randomBytes(225 * 1024).toString('base64').replace(/(.{76})/g, '$1\n'));
  sha = createHash('sha256').update(body).digest('hex');
  writeFileSync(join(dir, 'big.txt'), body);
  for (const n of ['curl', 'python', 'node', 'pid', 'uid', 'late']) writeFileSync(join(dir, `${n}.txt`), `hello ${n}\n`);
  port = await freePort();
  server = startProcess('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', 'cert.pem', '-key', 'key.pem', '-WWW', '-quiet'], { cwd: dir });
  await waitFor('s_server', () => spawnSync('sh', ['-c', `ss -ltn | grep -q 127.0.0.1:${port}`]).status === 0, 10_000);
});

after(async () => {
  server?.child.kill('SIGTERM');
  await server?.exited;
  cleanup(dir);
});

function requestsFor(events: TextEvent[], path: string): TextEvent[] {
  return events.filter((e) => e.dir === 'WRITE' && e.payload.toString('latin1').startsWith(`GET ${path} `));
}

/** The bytes a process read on one connection, in order (the text output carries them unchanged). */
function readStream(events: TextEvent[], pid: number, src: string): Buffer {
  return Buffer.concat(events.filter((e) => e.pid === pid && e.dir === 'READ' && e.src === src).map((e) => e.payload));
}

function httpBody(stream: Buffer): Buffer {
  const i = stream.indexOf('\r\n\r\n');
  return i < 0 ? Buffer.alloc(0) : stream.subarray(i + 4);
}

/**
 * The three ways a connection finds its socket (bpf/lib/tls_data.bpf.h): the library's struct (nginx-like
 * socket BIOs: s_server, python) with the socket-layer tracepoints for the rest (curl's own BIO, node's
 * memory BIO); the socket-layer tracepoints alone (fd found by scanning the fd table); the syscall
 * tracepoints (kernels before 6.3).
 */
const BINDINGS = [
  { how: 'library struct + socket tracepoints', env: {}, hooks: 'socket', inner: true },
  { how: 'socket tracepoints, fd-table scan', env: { ECAPTURE_NO_STRUCT_FD: '1' }, hooks: 'socket', inner: true },
  { how: 'syscall tracepoints', env: { ECAPTURE_NO_STRUCT_FD: '1', ECAPTURE_IO_HOOKS: 'syscalls' }, hooks: 'syscalls', inner: true },
  // where the probes go (src/probes/tls/targets.ts, innerFunctions()): the exported functions, as on builds without
  // an out-of-line ssl_read_internal (the default here hooks Debian's ssl_*_internal; node's static copy is always
  // hooked at its exports)
  { how: 'exported SSL_read/SSL_write hooked', env: { ECAPTURE_HOOK_EXPORTS: '1' }, hooks: 'socket', inner: false },
];

for (const b of BINDINGS) test(`tls text: curl, python3 and node are captured with pid, comm, tuple and the whole body (${b.how})`, async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'openssl', 'curl', 'bpftool')) return;
  const cap = await startCapture(['tls', '-d'], { env: b.env });
  const url = (p: string): string => `https://127.0.0.1:${port}/${p}`;
  const curl = await run('curl', ['-sk', '--http1.1', '-o', '/dev/null', url('big.txt')]);
  const curl2 = await run('curl', ['-sk', '--http1.1', '-o', '/dev/null', url('curl.txt')]);
  const py = await run(PY, ['-c', `import ssl,urllib.request as u;c=ssl._create_unverified_context();print(len(u.urlopen("${url('python.txt')}",context=c).read()))`]);
  const nodeScript = `require('https').get('${url('node.txt')}',{rejectUnauthorized:false},r=>{r.resume();r.on('end',()=>process.exit(0))})`;
  const nd = await run(process.execPath, ['-e', nodeScript]);
  assert.equal(curl.code, 0, curl.stderr);
  assert.equal(py.code, 0, py.stderr);
  assert.equal(nd.code, 0, nd.stderr);
  await sleep(300);
  const code = await cap.stop();
  assert.equal(code, 0, cap.stderr());
  const events = parseTextEvents(cap.events());

  const serverEnd = `127.0.0.1:${port}`;
  for (const [path, proc, comm] of [
    ['/big.txt', curl, 'curl'],
    ['/curl.txt', curl2, 'curl'],
    ['/python.txt', py, 'python3'],
    ['/node.txt', nd, 'node'],
  ] as const) {
    const reqs = requestsFor(events, path);
    assert.equal(reqs.length, 1, `request line for ${path} captured exactly once (got ${reqs.length})`);
    const r = reqs[0]!;
    assert.equal(r.pid, proc.pid, `${path}: pid of the client`);
    assert.equal(r.comm, comm, `${path}: comm`);
    assert.equal(r.dst, serverEnd, `${path}: server port in the tuple (${r.header})`);
    assert.match(r.src, /^127\.0\.0\.1:\d+$/);
    assert.equal(r.uid, 0);
    assert.ok(r.fd > 2, `${path}: a real fd (${r.fd})`);
  }
  // the 300 KB response, reassembled from curl's read events, is the file: nothing truncated at 16 KB
  const big = requestsFor(events, '/big.txt')[0]!;
  const got = httpBody(readStream(events, big.pid, serverEnd));
  assert.equal(got.length, body.length, 'body length');
  assert.equal(createHash('sha256').update(got).digest('hex'), sha, 'body sha256');
  assert.match(cap.stderr(), /captured \d+ events/, 'summary printed');
  assert.match(cap.stderr(), /lost 0 events/, 'nothing lost');
  assert.match(cap.stderr(), new RegExp(`fd-binding hooks .*hooks=${b.hooks}`), 'the binding hooks attached');
  const hooked = /hooked .*lib="openssl 3[^\n]*functions="([^"]*)"/.exec(cap.stderr())?.[1];
  assert.equal(hooked, b.inner ? 'SSL_free ssl_read_internal ssl_write_internal' : 'SSL_write SSL_read SSL_write_ex SSL_read_ex SSL_free', 'the system libssl\'s hooked functions');
  // every connection of a client has one fd, the same in its requests and responses
  for (const pid of [curl.pid, curl2.pid, py.pid, nd.pid]) {
    const fds = new Set(events.filter((e) => e.pid === pid && (e.dst === serverEnd || e.src === serverEnd)).map((e) => e.fd));
    assert.ok(fds.size === 1 && [...fds][0]! > 2, `pid ${pid}: one real fd for its one connection (${[...fds].join(',')})`);
  }
});

test('tls text: --pid keeps one process and excludes the others', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'openssl', 'curl')) return;
  // a python client that is already running (and has loaded libssl) before the capture starts
  const script = join(dir, 'waiter.py');
  writeFileSync(script, `import ssl,sys,urllib.request as u\nc=ssl._create_unverified_context()\nsys.stdin.readline()\nprint(len(u.urlopen("https://127.0.0.1:${port}/pid.txt",context=c).read()))\n`);
  const py = startProcess(PY, [script]);
  await sleep(300);
  const cap = await startCapture(['tls', '--pid', String(py.pid)]);
  const other = await run('curl', ['-sk', `https://127.0.0.1:${port}/curl.txt`]);
  py.child.stdin?.write('go\n');
  await py.exited;
  await sleep(300);
  await cap.stop();
  const events = parseTextEvents(cap.events());
  assert.equal(requestsFor(events, '/pid.txt').length, 1, 'the chosen process is captured');
  assert.equal(requestsFor(events, '/pid.txt')[0]!.pid, py.pid);
  assert.equal(events.filter((e) => e.pid === other.pid).length, 0, 'other processes are not');
  assert.ok(events.every((e) => e.pid === py.pid), 'only the chosen pid appears');
});

test('tls text: --uid keeps one user and excludes the others', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'openssl', 'curl', 'setpriv')) return;
  const cap = await startCapture(['tls', '--uid', '65534']);
  const asNobody = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'curl', '-sk', `https://127.0.0.1:${port}/uid.txt`]);
  const asRoot = await run('curl', ['-sk', `https://127.0.0.1:${port}/curl.txt`]);
  assert.equal(asNobody.code, 0, asNobody.stderr);
  await sleep(300);
  await cap.stop();
  const events = parseTextEvents(cap.events());
  const reqs = requestsFor(events, '/uid.txt');
  assert.equal(reqs.length, 1, 'the other user is captured');
  assert.equal(reqs[0]!.uid, 65534);
  assert.equal(events.filter((e) => e.pid === asRoot.pid).length, 0, 'root is not');
});

for (const classic of [false, true]) {
  const how = classic ? 'classic perf-event uprobes' : 'uprobe_multi links where the kernel has them';
  test(`tls text: after SIGINT nothing stays loaded or attached (${how})`, async (t) => {
    if (!canRunBpf(t) || !needPrograms(t, 'bpftool')) return;
    const before = ourLoadedPrograms().length;
    const cap = await startCapture(['tls'], classic ? { env: { ECAPTURE_NO_UPROBE_MULTI: '1' } } : {});
    assert.ok(ourLoadedPrograms().length > before, 'programs are loaded while capturing');
    const t0 = performance.now();
    const code = await cap.stop();
    t.diagnostic(`stopped in ${Math.round(performance.now() - t0)} ms`);
    assert.equal(code, 0);
    assert.deepEqual(ourLoadedPrograms().slice(before), [], 'no program (so no link) of ours stays loaded');
    const perf = spawnSync('bpftool', ['-j', 'perf', 'list'], { encoding: 'utf8' });
    const attached = (JSON.parse(perf.stdout || '[]') as { pid: number }[]).filter((p) => p.pid === cap.pid);
    assert.deepEqual(attached, [], 'no perf event (uprobe/tracepoint) of ours stays attached');
    assert.match(cap.stderr(), /captured \d+ events/);
  });
}

test('tls text: errors are one clear line with a non-zero exit', async (t) => {
  if (!canRunBpf(t)) return;
  const d = tempDir();
  const notElf = join(d, 'x.so');
  writeFileSync(notElf, 'not an elf');
  const cases: [string[], RegExp][] = [
    [['tls', '--pid', '4000000'], /--pid 4000000: no such process/],
    [['tls', '--libssl', '/nonexistent/libssl.so'], /--libssl \/nonexistent\/libssl.so: not an ELF/],
    [['tls', '--libssl', notElf], /not an ELF file that defines SSL_write/],
    [['tls', '--libssl', '/bin/true'], /not an ELF file that defines SSL_write/],
  ];
  for (const [args, re] of cases) {
    const rr = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    assert.equal(rr.status, 1, `${args.join(' ')}: exit 1`);
    assert.match(rr.stderr, re, `${args.join(' ')}: ${rr.stderr}`);
    assert.match(rr.stderr, /^hint: /m, 'a hint says what to do');
  }
  cleanup(d);
});
