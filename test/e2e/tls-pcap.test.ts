/**
 * `ecapture tls -m pcap`: TC capture of one interface into a pcapng file that tshark decrypts on its own
 * (Decryption Secrets Blocks ahead of the packets they decrypt), with the process in each packet's comment,
 * wall-clock timestamps, the pcap filter (in the kernel, and the same packets as libpcap in userspace), --pid,
 * Ctrl-C leaving a complete file, the clsact qdisc removed only when we added it, and bad input refused before
 * anything is attached. Real programs: nginx (HTTP/1.1 and HTTP/2) and curl on lo; openssl s_server in a network
 * namespace of ours behind a veth pair for a non-loopback interface.
 * Assertions look at our own ports, pids and interfaces only: other captures may run at the same time.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPcapng, type PcapngBlock } from '../../src/output/pcapng/reader.js';
import { tcpFlowInfo } from '../../src/output/pcapng/tls-flow.js';
import { parseKeylog } from '../../src/tls/keylog.js';
import {
  CLI, canRunBpf, cleanup, freePort, makeCert, needPrograms, run, sleep, startCapture, startProcess, tempDir, waitFor, type Proc,
} from './harness.js';

let dir = '';
let tlsPort = 0;
let httpPort = 0;
let nginx: Proc | undefined;
const PY = '/usr/bin/python3';

function listening(port: number, addr = '127.0.0.1', netns?: string): boolean {
  const ss = netns ? `ip netns exec ${netns} ss -ltn` : 'ss -ltn';
  return spawnSync('sh', ['-c', `${ss} | grep -q ${addr}:${port}`]).status === 0;
}

function sh(cmd: string): { status: number | null; out: string } {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

before(async () => {
  dir = tempDir('ecap-pcap-');
  chmodSync(dir, 0o755);
  makeCert(dir);
  mkdirSync(join(dir, 'www'));
  for (const n of ['h1', 'h2', 'pid', 'other', 'plain', 'diff', 'veth']) writeFileSync(join(dir, 'www', `${n}.txt`), `hello ${n}\n`);
  writeFileSync(join(dir, 'veth.txt'), 'hello veth\n');
  tlsPort = await freePort();
  httpPort = await freePort();
  if (spawnSync('sh', ['-c', 'command -v nginx']).status !== 0) return;
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/tmp-body;
  proxy_temp_path ${dir}/tmp-proxy;
  fastcgi_temp_path ${dir}/tmp-fcgi;
  uwsgi_temp_path ${dir}/tmp-uwsgi;
  scgi_temp_path ${dir}/tmp-scgi;
  server {
    listen 127.0.0.1:${tlsPort} ssl http2;
    listen 127.0.0.1:${httpPort};
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    root ${dir}/www;
  }
}
`);
  nginx = startProcess('nginx', ['-c', conf, '-p', `${dir}/`, '-e', `${dir}/nginx-error.log`]);
  await waitFor('nginx', () => (listening(tlsPort) && listening(httpPort)) || nginx!.child.exitCode !== null, 10_000);
});

after(async () => {
  if (nginx && nginx.child.exitCode === null) {
    nginx.child.kill('SIGTERM');
    await nginx.exited;
  }
  cleanup(dir);
});

function tshark(args: string[]): string {
  const r = spawnSync('tshark', ['-n', ...args], { encoding: 'utf8', maxBuffer: 256 << 20 });
  assert.equal(r.status, 0, `tshark ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function fields(file: string, filter: string, ...f: string[]): string[][] {
  const out = tshark(['-r', file, ...(filter ? ['-Y', filter] : []), '-T', 'fields', '-E', 'separator=\t', ...f.flatMap((x) => ['-e', x])]);
  return out.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

/**
 * Every TLS connection of the file whose keys it carries: its ClientHello (the first packet the writer holds)
 * comes after the DSB that carries the connection's traffic secrets. Returns the number of such connections.
 */
function assertSecretsFirst(blocks: PcapngBlock[]): number {
  const secretAt = new Map<string, number>();
  let checked = 0;
  blocks.forEach((b, i) => {
    if (b.type === 'dsb') {
      for (const e of parseKeylog(b.secrets.toString('latin1'))) {
        const cr = e.clientRandom.toString('hex');
        if (!secretAt.has(cr) && (e.label === 'CLIENT_RANDOM' || e.label === 'SERVER_TRAFFIC_SECRET_0')) secretAt.set(cr, i);
      }
    } else if (b.type === 'epb') {
      const info = tcpFlowInfo(1, b.data);
      if (info?.clientRandom) {
        const at = secretAt.get(info.clientRandom);
        assert.ok(at !== undefined && at < i, `the secrets of ${info.clientRandom} precede its ClientHello (block ${i})`);
        checked++;
      }
    }
  });
  return checked;
}

test('pcap on lo: curl → nginx (HTTP/1.1, HTTP/2) decrypted by tshark from our file alone; pid comments, secrets, wall clock, filter', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'nginx', 'curl', 'tshark', 'capinfos', 'tc')) return;
  assert.equal(nginx?.child.exitCode, null, 'nginx runs');
  const out = join(dir, 'lo.pcapng');
  const keys = join(dir, 'lo-keys.log');
  const cap = await startCapture(['tls', '-m', 'pcap', '-i', 'lo', '-w', out, '-k', keys, 'tcp', 'port', String(tlsPort)]);
  assert.match(cap.stderr(), /capturing packets .*ifname=lo .*filter="tcp port \d+ \(kernel/, 'the filter runs in the kernel');
  const t0 = Date.now();
  const h1 = await run('curl', ['-sk', '--http1.1', `https://127.0.0.1:${tlsPort}/h1.txt`]);
  const h2 = await run('curl', ['-sk', '--http2', `https://127.0.0.1:${tlsPort}/h2.txt`]);
  const plain = await run('curl', ['-s', `http://127.0.0.1:${httpPort}/plain.txt`]);
  const t1 = Date.now();
  assert.equal(h1.stdout, 'hello h1\n', h1.stderr);
  assert.equal(h2.stdout, 'hello h2\n', h2.stderr);
  assert.equal(plain.stdout, 'hello plain\n', plain.stderr);
  await sleep(500);
  assert.equal(await cap.stop(), 0, cap.stderr());
  assert.match(cap.stderr(), /pcapng written .*released_without_keys=0/, cap.stderr());

  // HTTP/1.1: the request line with its path, and the 200
  const h1rows = fields(out, 'http', 'http.request.uri', 'http.response.code', 'tcp.port');
  assert.ok(h1rows.some((r) => r[0] === '/h1.txt'), `GET /h1.txt decrypted (${JSON.stringify(h1rows)})`);
  assert.ok(h1rows.some((r) => r[1] === '200'), 'HTTP/1.1 200 decrypted');
  // HTTP/2: the request's :path and the :status 200
  const h2rows = fields(out, 'http2.type == 1', 'http2.headers.path', 'http2.headers.status');
  assert.ok(h2rows.some((r) => r[0] === '/h2.txt'), `HTTP/2 HEADERS :path /h2.txt (${JSON.stringify(h2rows)})`);
  assert.ok(h2rows.some((r) => r[1] === '200'), 'HTTP/2 :status 200');
  // the comment names curl and its pid
  const comments = fields(out, '', 'frame.comment').map((r) => r[0] ?? '');
  assert.ok(comments.some((c) => c.includes(`pid=${h1.pid} comm=curl`)), `curl's pid in packet comments (${comments.slice(0, 5).join(' | ')})`);
  assert.ok(comments.some((c) => c.includes(`pid=${nginx!.pid} comm=nginx`)), "nginx's packets name nginx");
  const ownedShare = comments.filter((c) => /pid=\d+/.test(c)).length / comments.length;
  assert.ok(ownedShare > 0.95, `nearly every packet has its process (${ownedShare})`);
  // decryption secrets in the file, before the packets they decrypt
  const info = spawnSync('capinfos', [out], { encoding: 'utf8' });
  assert.equal(info.status, 0, info.stderr);
  assert.match(info.stdout, /Number of decryption secrets in file: [1-9]/);
  assert.match(info.stdout, /Interface #0 info:\s+Name = lo/);
  assert.match(info.stdout, /Encapsulation = Ethernet/);
  const blocks = readPcapng(readFileSync(out));
  assert.equal(assertSecretsFirst(blocks), 2, 'two TLS connections, each after its secrets');
  // wall-clock timestamps
  const times = fields(out, '', 'frame.time_epoch').map((r) => Number(r[0]) * 1000);
  assert.ok(times.length > 10);
  for (const ms of times) assert.ok(ms >= t0 - 1000 && ms <= t1 + 1000, `timestamp ${new Date(ms).toISOString()} within a second of the requests`);
  // the filter kept only the TLS port
  const ports = fields(out, '', 'tcp.srcport', 'tcp.dstport');
  assert.ok(ports.every((p) => p.includes(String(tlsPort))), 'every packet is on the filtered port');
  assert.ok(!ports.some((p) => p.includes(String(httpPort))), 'the plain HTTP port is filtered out');
  // the key log was written too, 0600
  assert.equal(spawnSync('stat', ['-c', '%a', keys], { encoding: 'utf8' }).stdout.trim(), '600');
  assert.equal(spawnSync('stat', ['-c', '%a', out], { encoding: 'utf8' }).stdout.trim(), '600');
  // nothing of ours stays on lo
  const handle = `handle 0x${(cap.pid & 0xffffff).toString(16)} `;
  for (const d of ['ingress', 'egress']) assert.ok(!sh(`tc filter show dev lo ${d}`).out.includes(handle), `our ${d} filter is gone`);
});

test('pcap: --pid keeps the packets of that process only (both directions on lo)', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'nginx', 'curl', 'tshark')) return;
  const out = join(dir, 'pid.pcapng');
  const script = join(dir, 'waiter.py');
  writeFileSync(script, `import ssl,sys,urllib.request as u\nc=ssl._create_unverified_context()\nsys.stdin.readline()\nprint(u.urlopen("https://127.0.0.1:${tlsPort}/pid.txt",context=c).read().decode(),end="")\n`);
  const py = startProcess(PY, [script]);
  await sleep(300);
  const cap = await startCapture(['tls', '-m', 'pcap', '-i', 'lo', '-w', out, '-k', join(dir, 'pid-keys.log'), '--pid', String(py.pid)]);
  const other = await run('curl', ['-sk', '--http1.1', `https://127.0.0.1:${tlsPort}/other.txt`]);
  py.child.stdin!.write('go\n');
  await py.exited;
  assert.equal(py.stdout(), 'hello pid\n', py.stderr());
  assert.equal(other.code, 0);
  await sleep(500);
  assert.equal(await cap.stop(), 0, cap.stderr());
  const comments = fields(out, '', 'frame.comment').map((r) => r[0] ?? '');
  assert.ok(comments.length >= 8, `the python connection's packets (${comments.length})`);
  for (const c of comments) assert.ok(c.includes(`pid=${py.pid}`) || c.includes(`peer_pid=${py.pid}`), `every packet involves the chosen process: "${c}"`);
  assert.ok(!comments.some((c) => c.includes(`pid=${other.pid}`)), 'curl is not there');
  const uris = fields(out, 'http.request', 'http.request.uri').map((r) => r[0]);
  assert.deepEqual(uris, ['/pid.txt'], 'the chosen process is decrypted, the other is absent');
});

test('pcap: the in-kernel filter keeps exactly the packets libpcap keeps (two captures side by side)', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'nginx', 'curl', 'tshark')) return;
  const expr = `tcp port ${tlsPort} and (tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 or len > 400 or tcp[((tcp[12:1] & 0xf0) >> 2):1] = 0x16)`;
  const kOut = join(dir, 'kernel.pcapng');
  const uOut = join(dir, 'user.pcapng');
  const kCap = await startCapture(['tls', '-m', 'pcap', '-i', 'lo', '-w', kOut, '-k', join(dir, 'k.log'), expr]);
  const uCap = await startCapture(['tls', '-m', 'pcap', '-i', 'lo', '-w', uOut, '-k', join(dir, 'u.log'), expr], { env: { ECAPTURE_PCAP_FILTER: 'user' } });
  assert.match(kCap.stderr(), /\(kernel: /);
  assert.match(uCap.stderr(), /\(user: ECAPTURE_PCAP_FILTER=user\)/);
  await sleep(200);
  for (let i = 0; i < 3; i++) {
    await run('curl', ['-sk', '--http1.1', `https://127.0.0.1:${tlsPort}/diff.txt`]);
    await run('curl', ['-sk', '--http2', `https://127.0.0.1:${tlsPort}/diff.txt`]);
    await run('curl', ['-s', `http://127.0.0.1:${httpPort}/diff.txt`]);
  }
  await sleep(500);
  assert.equal(await uCap.stop(), 0, uCap.stderr());
  assert.equal(await kCap.stop(), 0, kCap.stderr());
  // compare the packets both saw while both were running: keyed by (ports, raw seq, flags, length)
  const key = (f: string): Set<string> => new Set(fields(f, '', 'tcp.srcport', 'tcp.dstport', 'tcp.seq_raw', 'tcp.flags', 'frame.len').map((r) => r.join('/')));
  const k = key(kOut);
  const u = key(uOut);
  assert.ok(k.size >= 20, `enough packets to compare (${k.size})`);
  const onlyK = [...k].filter((x) => !u.has(x));
  const onlyU = [...u].filter((x) => !k.has(x));
  assert.deepEqual({ onlyK, onlyU }, { onlyK: [], onlyU: [] }, 'same packets');
  const ports = fields(kOut, '', 'tcp.srcport', 'tcp.dstport');
  assert.ok(ports.every((p) => p.includes(String(tlsPort))));
});

test('pcap on a veth pair into a namespace of ours: both directions, MACs, ifindex; Ctrl-C leaves a complete file; our clsact is removed, a prior one stays', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'ip', 'tc', 'curl', 'tshark', 'capinfos', 'openssl')) return;
  const tag = (process.pid % 100000).toString();
  const ns = `ecapns${tag}`;
  const [a, b] = [`ecv${tag}a`, `ecv${tag}b`];
  const setup = [
    `ip netns add ${ns}`,
    `ip link add ${a} type veth peer name ${b} netns ${ns}`,
    `ip addr add 10.203.7.1/24 dev ${a}`,
    `ip link set ${a} up`,
    `ip -n ${ns} addr add 10.203.7.2/24 dev ${b}`,
    `ip -n ${ns} link set ${b} up`,
    `ip -n ${ns} link set lo up`,
  ];
  let server: Proc | undefined;
  try {
    for (const c of setup) assert.equal(sh(c).status, 0, `${c}: ${sh(c).out}`);
    const port = await freePort();
    server = startProcess('ip', ['netns', 'exec', ns, 'openssl', 's_server', '-accept', `10.203.7.2:${port}`, '-cert', 'cert.pem', '-key', 'key.pem', '-WWW', '-quiet'], { cwd: dir });
    await waitFor('s_server in the namespace', () => listening(port, '10.203.7.2', ns), 10_000);
    const ifindex = Number(readFileSync(`/sys/class/net/${a}/ifindex`, 'utf8'));
    const mac = readFileSync(`/sys/class/net/${a}/address`, 'utf8').trim();

    // 1: no clsact before: ours is created and removed
    assert.ok(!sh(`tc qdisc show dev ${a}`).out.includes('clsact'));
    const out = join(dir, 'veth.pcapng');
    const cap = await startCapture(['tls', '-m', 'pcap', '-i', a, '-w', out, '-k', join(dir, 'veth-keys.log')]);
    assert.ok(sh(`tc qdisc show dev ${a}`).out.includes('clsact'), 'clsact added while capturing');
    const c = await run('curl', ['-sk', '--http1.1', `https://10.203.7.2:${port}/veth.txt`]);
    assert.equal(c.stdout, 'hello veth\n', c.stderr);
    await sleep(300);
    assert.equal(await cap.stop(), 0, cap.stderr());
    assert.ok(!sh(`tc qdisc show dev ${a}`).out.includes('clsact'), 'the clsact qdisc we added is gone');
    const info = spawnSync('capinfos', [out], { encoding: 'utf8' });
    assert.equal(info.status, 0, `complete file: ${info.stderr}`);
    assert.match(info.stdout, new RegExp(`Name = ${a}`));
    assert.match(info.stdout, new RegExp(`Description = ${a} \\(ifindex ${ifindex}\\)`));
    const blocks = readPcapng(readFileSync(out)); // every block framed correctly, to the last
    assert.ok(blocks.some((bl) => bl.type === 'isb'), 'interface statistics at the end');
    assert.equal(assertSecretsFirst(blocks), 1);
    const rows = fields(out, `tcp.port == ${port}`, 'eth.src', 'ip.src');
    assert.ok(rows.some((r) => r[0] === mac && r[1] === '10.203.7.1'), 'egress frames carry our MAC');
    assert.ok(rows.some((r) => r[0] !== mac && r[1] === '10.203.7.2'), 'ingress frames are there too');
    const dirs = fields(out, `tcp.port == ${port}`, 'frame.packet_flags_direction').map((r) => r[0]);
    assert.ok(dirs.includes('0x00000001') || dirs.includes('1'), `inbound flags (${[...new Set(dirs)].join(',')})`);
    assert.ok(dirs.includes('0x00000002') || dirs.includes('2'), 'outbound flags');
    const comments = fields(out, `tcp.port == ${port}`, 'frame.comment').map((r) => r[0] ?? '');
    assert.ok(comments.some((cm) => cm.includes(`pid=${c.pid} comm=curl`)), 'curl named on egress');
    assert.ok(comments.some((cm) => cm.includes(`pid=${c.pid} comm=curl (receiver)`)), 'and as the receiver of ingress packets');
    const uris = fields(out, 'http.request', 'http.request.uri').map((r) => r[0]);
    assert.deepEqual(uris, ['/veth.txt'], 'decrypted');

    // 2: a clsact qdisc that was there before stays, without our filters
    assert.equal(sh(`tc qdisc add dev ${a} clsact`).status, 0);
    const out2 = join(dir, 'veth2.pcapng');
    const cap2 = await startCapture(['tls', '-m', 'pcap', '-i', a, '-w', out2, '-k', join(dir, 'veth-keys.log')]);
    await run('curl', ['-sk', `https://10.203.7.2:${port}/veth.txt`]);
    cap2.child.kill('SIGINT');
    assert.equal(await cap2.exited, 0);
    assert.ok(sh(`tc qdisc show dev ${a}`).out.includes('clsact'), 'the prior clsact qdisc is still there');
    assert.equal(sh(`tc filter show dev ${a} ingress`).out.trim(), '', 'no filter of ours left on ingress');
    assert.equal(sh(`tc filter show dev ${a} egress`).out.trim(), '', 'nor on egress');
    assert.equal(spawnSync('capinfos', [out2]).status, 0, 'complete file');
  } finally {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    sh(`ip link del ${a}`);
    sh(`ip netns del ${ns}`);
  }
});

test('pcap: bad input is one clear error, before anything is attached', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'ip')) return;
  const down = `ecdn${process.pid % 100000}`;
  assert.equal(sh(`ip link add ${down} type veth peer name ${down}p`).status, 0, 'a veth pair, left down');
  try {
    const link = join(dir, 'link.pcapng');
    symlinkSync(join(dir, 'victim.pcapng'), link);
    const w = join(dir, 'bad.pcapng');
    const cases: [string[], RegExp][] = [
      [['-i', 'nope0', '-w', w], /-i nope0: no such network interface/],
      [['-i', down, '-w', w], new RegExp(`-i ${down}: the interface is down`)],
      [['-i', 'lo', '-w', '/nonexistent-dir/x.pcapng'], /open pcapng file \/nonexistent-dir\/x.pcapng/],
      [['-i', 'lo', '-w', link], /symbolic link; refusing to follow it/],
      [['-i', 'lo', '-w', w, 'tcp', 'port'], /pcap filter "tcp port": .*syntax error/],
      [['-i', 'lo', '-w', w, 'port', '99999999'], /pcap filter "port 99999999": .*port .*range|invalid|illegal/i],
    ];
    for (const [args, re] of cases) {
      const r = spawnSync(process.execPath, [CLI, 'tls', '-m', 'pcap', '-k', join(dir, 'bad-keys.log'), ...args], { encoding: 'utf8' });
      assert.equal(r.status, 1, `${args.join(' ')}: exit 1 (${r.stderr})`);
      assert.match(r.stderr, re, args.join(' '));
      assert.doesNotMatch(r.stderr, /INF hooked|capturing packets|capture started/, `${args.join(' ')}: nothing attached`);
    }
    assert.ok(!existsSync(join(dir, 'victim.pcapng')), 'the symlink target was not created');
  } finally {
    sh(`ip link del ${down}`);
  }
});
