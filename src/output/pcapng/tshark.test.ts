/**
 * Files from PcapngWriter checked by Wireshark's own tools (capinfos, tshark), and end to end: real TLS traffic
 * (curl → openssl s_server on 127.0.0.1, recorded by tcpdump) plus curl's key log as DSBs → tshark decrypts HTTP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { KeylogWriter, parseKeylog } from '../../tls/keylog.js';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from './blocks.js';
import { readPcapng } from './reader.js';
import { ether, haveTool, ipv4Tcp, readClassicPcap } from './test-helpers.js';
import { PcapngWriter } from './writer.js';

const TSHARK = haveTool('tshark') && haveTool('capinfos');
const run = (cmd: string, args: string[]): string => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const tshark = (...args: string[]): string => run('tshark', ['-o', 'gui.console_open:never', ...args]);

test('capinfos/tshark accept the file: interfaces, link types, filter, comments, direction, DSB count', { skip: !TSHARK }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'pcapng-ts-'));
  try {
    const path = join(dir, 't.pcapng');
    const w = new PcapngWriter({ path, flushIntervalMs: 0 });
    const lo = w.addInterface({ name: 'lo', description: 'loopback', linkType: LINKTYPE_ETHERNET, filter: 'tcp port 8443' });
    const tun = w.addInterface({ name: 'tun7', linkType: LINKTYPE_RAW });
    const t0 = BigInt(Date.now()) * 1_000_000n;
    w.addPacket({ interfaceId: lo, tsNs: t0, data: ether(ipv4Tcp('127.0.0.1', 41000, '127.0.0.1', 8443, Buffer.from('x'))), pid: 31337, comm: 'curl', direction: 'outbound' });
    w.addSecrets(`CLIENT_RANDOM ${'01'.repeat(32)} ${'02'.repeat(48)}`);
    w.addPacket({ interfaceId: tun, tsNs: t0 + 5000n, data: ipv4Tcp('10.1.1.1', 80, '10.1.1.2', 41001, Buffer.from('y')), direction: 'inbound' });
    w.close();
    const info = run('capinfos', [path]);
    assert.match(info, /Number of packets:\s+2/);
    assert.match(info, /Number of interfaces in file: 2/);
    assert.match(info, /Name = lo[\s\S]*Encapsulation = Ethernet \(1[\s\S]*Filter string = tcp port 8443/);
    assert.match(info, /Name = tun7[\s\S]*Encapsulation = Raw IP/);
    assert.match(info, /Time precision = nanoseconds \(9\)/);
    assert.match(info, /Number of decryption secrets in file: 1/);
    const rows = tshark('-r', path, '-T', 'fields', '-E', 'separator=|', '-e', 'frame.interface_name', '-e', 'frame.comment', '-e', 'frame.packet_flags_direction', '-e', 'ip.dst', '-e', 'frame.time_epoch')
      .trim().split('\n').map((l) => l.split('|'));
    assert.deepEqual(rows.map((r) => r.slice(0, 4)), [
      ['lo', 'pid=31337 comm=curl', '0x00000002', '127.0.0.1'],
      ['tun7', '', '0x00000001', '10.1.1.2'],
    ]);
    assert.equal(rows[0]![4], `${t0 / 1_000_000_000n}.${(t0 % 1_000_000_000n).toString().padStart(9, '0')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGINT during a busy capture leaves a complete, valid file', { skip: !TSHARK }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pcapng-int-'));
  try {
    const path = join(dir, 'int.pcapng');
    const script = join(dir, 'child.mjs');
    writeFileSync(script, `
      import { PcapngWriter } from ${JSON.stringify(new URL('./writer.js', import.meta.url).href)};
      import { ether, ipv4Tcp, clientHello } from ${JSON.stringify(new URL('./test-helpers.js', import.meta.url).href)};
      const w = new PcapngWriter({ path: ${JSON.stringify(path)}, flushIntervalMs: 20, flushBytes: 4096 });
      const i = w.addInterface({ name: 'lo', linkType: 1 });
      let n = 0;
      setInterval(() => {
        for (let k = 0; k < 20; k++, n++) {
          const data = ether(ipv4Tcp('127.0.0.1', 30000 + (n % 50), '127.0.0.1', 443, n % 7 === 0 ? clientHello(Buffer.alloc(32, n & 255)) : Buffer.alloc(n % 300)));
          w.addPacket({ interfaceId: i, tsNs: BigInt(Date.now()) * 1000000n, data, pid: process.pid, comm: 'child' });
          if (n % 13 === 0) w.addSecrets('CLIENT_RANDOM ' + Buffer.alloc(32, n & 255).toString('hex') + ' ' + '55'.repeat(48));
        }
        if (n === 200) process.stdout.write('ready\\n');
      }, 1);
      process.on('SIGINT', () => { w.close(); process.stdout.write(JSON.stringify(w.stats) + '\\n'); process.exit(0); });
    `);
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    while (!out.includes('ready')) await once(child.stdout!, 'data');
    await new Promise((r) => setTimeout(r, 150));
    process.kill(child.pid!, 'SIGINT');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    const stats = JSON.parse(out.split('\n').find((l) => l.startsWith('{'))!) as { packets: number; secretsBlocks: number };
    const blocks = readPcapng(readFileSync(path));
    assert.equal(blocks.filter((b) => b.type === 'epb').length, stats.packets);
    assert.equal(blocks.filter((b) => b.type === 'dsb').length, stats.secretsBlocks);
    const info = run('capinfos', [path]);
    assert.match(info, new RegExp(`Number of packets:\\s+${stats.packets}\\b`));
    assert.match(info, new RegExp(`Number of decryption secrets in file: ${stats.secretsBlocks}\\b`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- end to end with real TLS traffic -------------------------------------------------------------------

const E2E = TSHARK && haveTool('tcpdump') && haveTool('openssl') && haveTool('curl') && process.getuid?.() === 0;

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  s.close();
  return port;
}

async function waitConnectable(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((res) => {
      const c = connect(port, '127.0.0.1', () => (c.destroy(), res(true)));
      c.on('error', () => res(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`);
}

async function stop(p: ChildProcess, sig: NodeJS.Signals): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  process.kill(p.pid!, sig);
  await once(p, 'exit');
}

test('real curl → openssl s_server traffic + key log as DSBs: tshark decrypts the HTTP requests', { skip: !E2E, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pcapng-e2e-'));
  const procs: ChildProcess[] = [];
  try {
    run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
    const port = await freePort();
    const raw = join(dir, 'raw.pcap');
    const dump = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-n', '-w', raw, `tcp port ${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    procs.push(dump);
    let err = '';
    dump.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    while (!/listening on/.test(err)) await once(dump.stderr!, 'data');
    const server = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', join(dir, 'cert.pem'), '-key', join(dir, 'key.pem'), '-www', '-quiet'], { stdio: 'ignore' });
    procs.push(server);
    await waitConnectable(port);
    const keyfile = join(dir, 'curl-keys.log');
    const env = { ...process.env, SSLKEYLOGFILE: keyfile };
    for (const [path, extra] of [['/tls13-probe', ['--tlsv1.3']], ['/tls12-probe', ['--tls-max', '1.2']]] as const) {
      const r = spawnSync('curl', ['-sk', '-o', '/dev/null', '-w', '%{http_code}', ...extra, `https://127.0.0.1:${port}${path}`], { env, encoding: 'utf8' });
      assert.equal(r.stdout, '200', r.stderr);
    }
    await new Promise((r) => setTimeout(r, 300));
    await stop(dump, 'SIGINT');
    await stop(server, 'SIGTERM');

    const cap = readClassicPcap(readFileSync(raw));
    assert.equal(cap.linkType, LINKTYPE_ETHERNET);
    assert.ok(cap.records.length > 10);
    // key lines through our formatter (dedup), then into the writer *after* all packets: the keys arrive late,
    // as they do from the probes; the writer must hold the TLS flows and put the DSB first.
    const kw = new KeylogWriter();
    const lines = kw.addAll(parseKeylog(readFileSync(keyfile, 'utf8')));
    assert.ok(lines.some((l) => l.startsWith('CLIENT_RANDOM ')) && lines.some((l) => l.startsWith('CLIENT_TRAFFIC_SECRET_0 ')));
    const write = (path: string, withKeys: boolean): void => {
      const w = new PcapngWriter({ path, flushIntervalMs: 0 });
      const i = w.addInterface({ name: 'lo', linkType: cap.linkType, filter: `tcp port ${port}` });
      for (const r of cap.records) w.addPacket({ interfaceId: i, tsNs: r.tsNs, data: r.data, origLen: r.origLen, pid: 1, comm: 'curl' });
      if (withKeys) {
        assert.ok(w.stats.heldPackets > 0, 'TLS flows are held while their keys are unknown');
        w.addSecrets(lines);
      }
      w.close();
      if (withKeys) assert.equal(w.stats.releasedWithoutKeys, 0);
      else assert.ok(w.stats.releasedWithoutKeys > 0, 'without keys the held flows are released at close');
    };
    const out = join(dir, 'out.pcapng');
    write(out, true);
    const uris = tshark('-r', out, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri').trim().split('\n');
    assert.deepEqual(uris.sort(), ['/tls12-probe', '/tls13-probe']);
    // the decrypted TLS 1.3 stream holds s_server's -www answer
    const stream = tshark('-r', out, '-Y', 'http.request.uri == "/tls13-probe"', '-T', 'fields', '-e', 'tcp.stream').trim();
    assert.match(tshark('-r', out, '-q', '-z', `follow,tls,ascii,${stream}`), /GET \/tls13-probe HTTP\/1\.1[\s\S]*HTTP\/1\.0 200 ok/);
    const control = join(dir, 'nokeys.pcapng');
    write(control, false);
    assert.equal(tshark('-r', control, '-Y', 'http.request').trim(), '');
  } finally {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) process.kill(p.pid!, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
