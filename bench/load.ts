/**
 * What the load benchmarks (e2e.ts, pcap.ts) share: an HTTPS nginx with one worker on 127.0.0.1, wrk
 * against it, and starting/stopping the processes they measure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Resolves with what `p` printed once it matches `re` (stdout and stderr together). */
export async function waitOutput(p: ChildProcess, re: RegExp, timeoutMs: number): Promise<string> {
  let buf = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timeout waiting for ${re}: ${buf.slice(-500)}`)), timeoutMs);
    const on = (d: Buffer): void => {
      buf += d.toString();
      if (re.test(buf)) {
        clearTimeout(t);
        resolve(buf);
      }
    };
    p.stdout?.on('data', on);
    p.stderr?.on('data', on);
  });
}

export interface NginxOptions {
  /** files served from `dir` */
  files: Record<string, string | Buffer>;
  /** pin the worker to CPU 0 */
  pinWorker?: boolean;
  /** keepalive_requests (nginx's default is 1000) */
  keepaliveRequests?: number;
}

/** nginx, one worker, HTTPS on 127.0.0.1:port with a fresh self-signed certificate; serves `dir`. */
export function startNginx(dir: string, port: number, opts: NginxOptions): ChildProcess {
  spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    '-days', '2', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  for (const [name, content] of Object.entries(opts.files)) writeFileSync(join(dir, name), content);
  writeFileSync(join(dir, 'nginx.conf'), `
worker_processes 1;${opts.pinWorker ? '\nworker_cpu_affinity 01;' : ''}
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 1024; }
http {
  access_log off;${opts.keepaliveRequests ? `\n  keepalive_requests ${opts.keepaliveRequests};` : ''}
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
    root ${dir};
  }
}`);
  return spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' });
}

/** wrk, one thread, four connections, for `seconds` (on CPU 1 when `pinCpu1`): requests per second. */
export function wrk(url: string, seconds: number, pinCpu1 = false): number {
  const args = ['-t1', '-c4', `-d${seconds}s`, url];
  const r = pinCpu1 ? spawnSync('taskset', ['-c', '1', 'wrk', ...args], { encoding: 'utf8' }) : spawnSync('wrk', args, { encoding: 'utf8' });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout);
  if (!m) throw new Error(`wrk failed: ${r.stdout} ${r.stderr}`);
  return Number(m[1]);
}

/** Signal `p` and wait for its exit, at most `timeoutMs`. */
export async function stop(p: ChildProcess, sig: NodeJS.Signals = 'SIGINT', timeoutMs = 10_000): Promise<void> {
  if (p.exitCode !== null) return;
  const done = new Promise((r) => p.on('exit', r));
  p.kill(sig);
  await Promise.race([done, sleep(timeoutMs)]);
}
