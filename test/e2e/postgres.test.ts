/**
 * `ecapture postgres` against a PostgreSQL server started here (a temporary cluster owned by the postgres
 * user, 127.0.0.1, a free port): simple queries sent with psql (a plain one, a failing one, a 20 KB and a 100 KB one,
 * SQL PREPARE/EXECUTE; a session idle before the capture started) and extended-protocol statements (Parse/Bind/Execute/Sync, unnamed and named, one
 * failing at Bind) sent by a minimal client below. Records are matched by unique markers.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import {
  CLI, canRunBpf, cleanup, freePort, needPrograms, run, skipOrFail, sleep, startCapture, startProcess, tempDir, waitFor, which, type Proc,
} from './harness.js';

const TAG = `pg${randomBytes(4).toString('hex')}`;
let dir = '';
let port = 0;
let server: Proc | undefined;
let bin = '';
let setupError = '';

interface QueryRec {
  pid: number;
  kind?: string;
  len: number;
  database?: string;
  client?: string;
  retval?: number;
  status: string;
  query: string;
}

const HEAD = /^\S+ PID:(\d+) TID:\d+ Comm:(.*?) UID:\d+ (mysqld|postgres)(?: Kind:(\S+))? Len:(\d+)(?: DB:(\S+))?(?: Client:(\S+))?(?: Retval:(-?\d+))? Status:(.*)$/;

function parseQueries(text: string): QueryRec[] {
  const out: QueryRec[] = [];
  let cur: QueryRec | undefined;
  const body: string[] = [];
  const close = (): void => {
    if (cur) out.push({ ...cur, query: body.join('\n').replace(/\n$/, '') });
    body.length = 0;
  };
  for (const l of text.split('\n')) {
    const m = HEAD.exec(l);
    if (m) {
      close();
      cur = { pid: Number(m[1]), len: Number(m[5]), status: m[9]!, query: '' };
      if (m[4]) cur.kind = m[4];
      if (m[6]) cur.database = m[6];
      if (m[7]) cur.client = m[7];
      if (m[8]) cur.retval = Number(m[8]);
    } else if (cur) body.push(l);
  }
  close();
  return out;
}

/** A minimal PostgreSQL v3 protocol client (trust auth): the extended query protocol. */
class MiniPg {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  readonly messages: { type: string; body: Buffer }[] = [];
  private constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 5) {
        const len = this.buf.readInt32BE(1);
        if (this.buf.length < 1 + len) break;
        const m = { type: String.fromCharCode(this.buf[0]!), body: this.buf.subarray(5, 1 + len) };
        this.buf = this.buf.subarray(1 + len);
        this.messages.push(m);
        if (m.type === 'Z') this.waiters.shift()?.();
      }
    });
  }

  private ready(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }

  static async connect(p: number): Promise<MiniPg> {
    const sock = connect(p, '127.0.0.1');
    await new Promise<void>((res, rej) => sock.once('connect', () => res()).once('error', rej));
    const c = new MiniPg(sock);
    const params = Buffer.concat([i32(196608), cstr('user'), cstr('postgres'), cstr('database'), cstr('postgres'), Buffer.from([0])]);
    const r = c.ready();
    sock.write(Buffer.concat([i32(params.length + 4), params]));
    await r;
    return c;
  }

  /** A simple query; waits for ReadyForQuery. */
  async query(sql: string): Promise<void> {
    const r = this.ready();
    this.sock.write(msg('Q', cstr(sql)));
    await r;
  }

  /** Send messages, then Sync, and wait for ReadyForQuery. */
  async batch(...msgs: Buffer[]): Promise<void> {
    const r = this.ready();
    this.sock.write(Buffer.concat([...msgs, msg('S', Buffer.alloc(0))]));
    await r;
  }

  close(): void {
    this.sock.end(msg('X', Buffer.alloc(0)));
  }
}

const cstr = (s: string): Buffer => Buffer.from(`${s}\0`);
const i16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const i32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
function msg(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(type), i32(body.length + 4), body]);
}
const parseMsg = (name: string, sql: string): Buffer => msg('P', Buffer.concat([cstr(name), cstr(sql), i16(0)]));
const bindMsg = (stmt: string, params: string[]): Buffer =>
  msg('B', Buffer.concat([cstr(''), cstr(stmt), i16(0), i16(params.length), ...params.flatMap((p) => [i32(Buffer.byteLength(p)), Buffer.from(p)]), i16(0)]));
const executeMsg = (): Buffer => msg('E', Buffer.concat([cstr(''), i32(0)]));

/** The newest installed PostgreSQL server binaries directory. */
function pgBin(): string | undefined {
  try {
    const v = readdirSync('/usr/lib/postgresql').filter((n) => /^\d+$/.test(n)).sort((a, b) => Number(b) - Number(a));
    for (const n of v) if (existsSync(`/usr/lib/postgresql/${n}/bin/postgres`)) return `/usr/lib/postgresql/${n}/bin`;
  } catch {
    /* none */
  }
  return undefined;
}

before(async () => {
  const b = pgBin();
  if (process.getuid?.() !== 0 || !b || !which('setpriv')) return;
  bin = b;
  const pw = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  if (pw.status !== 0) {
    setupError = 'no postgres user';
    return;
  }
  const uid = Number(pw.stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  dir = tempDir('ecap-pg-');
  chmodSync(dir, 0o755);
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  const as = ['--reuid=postgres', '--regid=postgres', '--init-groups'];
  const init = spawnSync('setpriv', [...as, join(bin, 'initdb'), '-D', data, '-A', 'trust', '-U', 'postgres'], { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  port = await freePort();
  server = startProcess('setpriv', [...as, join(bin, 'postgres'), '-D', data, '-c', 'listen_addresses=127.0.0.1', '-p', String(port), '-k', dir,
    '-c', 'shared_buffers=16MB', '-c', 'fsync=off']);
  await waitFor('postgres to accept connections', () => {
    if (server!.child.exitCode !== null) throw new Error(`postgres exited: ${server!.stderr()}`);
    return spawnSync('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-c', 'select 1'], { encoding: 'utf8' }).status === 0;
  }, 30_000, 200);
});

after(async () => {
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGINT'); // setpriv execs postgres: this pid is the postmaster; SIGINT = fast shutdown
    const t = setTimeout(() => server!.child.kill('SIGKILL'), 20_000);
    await server.exited;
    clearTimeout(t);
  }
  if (dir) cleanup(dir);
});

const psql = (sql: string): Promise<{ code: number | string; stdout: string; stderr: string }> =>
  run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-v', 'ON_ERROR_STOP=0', '-c', sql]);

test('postgres: simple and extended queries, a failing one and a 20 KB one arrive with text, status and session', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'psql', 'setpriv')) return;
  if (!bin) return void skipOrFail(t, 'PostgreSQL server binaries are not installed (/usr/lib/postgresql/<N>/bin)');
  if (setupError) return void skipOrFail(t, setupError);
  assert.ok(server, 'postgres started');
  // a session idle before the capture starts (its backend waits inside pq_getbyte)
  const early = await MiniPg.connect(port);
  await early.query('select 1');
  const cap = await startCapture(['postgres', '--postgres', join(bin, 'postgres')], { dir });
  const big = `${TAG}_big_${'y'.repeat(20 * 1024)}`;
  const huge = `${TAG}_huge_${'0123456789'.repeat(10_000)}`; // 100 KB
  try {
    await early.query(`select '${TAG}_early' as e`);
    await early.query(`select '${TAG}_early2' as e`);
    early.close();
    assert.equal((await psql(`select '${TAG}_ok' as a`)).code, 0);
    assert.notEqual((await run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', `select * from nope_${TAG}`])).code, 0);
    const r = await psql(`select length('${big}') as n`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${big.length}`));
    const viaStdin = spawnSync('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'], { input: `select md5('${huge}') as h;\n`, encoding: 'utf8' });
    assert.equal(viaStdin.status, 0, viaStdin.stderr);
    const p = await run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-c', `PREPARE ${TAG}_s(int) AS select $1 * 2 as ${TAG}_sqlps`, '-c', `EXECUTE ${TAG}_s(21)`]);
    assert.equal(p.code, 0, p.stderr);
    const c = await MiniPg.connect(port);
    await c.batch(parseMsg('', `select $1::int * 2 as ${TAG}_unnamed`), bindMsg('', ['21']), executeMsg());
    await c.batch(parseMsg('named', `select 100 / $1::int as ${TAG}_named`));
    await c.batch(bindMsg('named', ['4']), executeMsg());
    await c.batch(bindMsg('named', ['0']), executeMsg()); // division by zero, raised while planning at Bind
    c.close();
    const errs = c.messages.filter((m) => m.type === 'E');
    assert.equal(errs.length, 1, 'the server answered one error');
    await waitFor('the last statement', () => parseQueries(cap.events().toString('utf8')).some((q) => q.query.includes(`${TAG}_named`) && q.status.startsWith('ERROR')), 15_000);
    await sleep(200);
  } finally {
    assert.equal(await cap.stop(), 0, cap.stderr());
  }
  const recs = parseQueries(cap.events().toString('utf8')).filter((q) => q.query.includes(TAG));
  const find = (s: string, kind?: string): QueryRec[] => {
    const q = recs.filter((x) => x.query.includes(s) && (!kind || x.kind === kind));
    assert.ok(q.length, `a ${kind ?? ''} record with ${s.slice(0, 50)}: ${recs.map((x) => `${x.kind}:${x.query.slice(0, 40)}`).join(' | ')}`);
    return q;
  };
  const [early1] = find(`${TAG}_early`);
  assert.equal(early1!.query, `select '${TAG}_early' as e`, 'the first statement of a session idle before the capture');
  assert.equal(early1!.kind, undefined, 'its message type was read before the capture started');
  assert.equal(early1!.status, 'SUCCESS');
  assert.match(early1!.client ?? '', /^postgres@127\.0\.0\.1:\d+$/);
  assert.equal(find(`${TAG}_early2`, 'simple')[0]!.status, 'SUCCESS');
  const [ok] = find(`${TAG}_ok`, 'simple');
  assert.equal(ok!.query, `select '${TAG}_ok' as a`);
  assert.equal(ok!.status, 'SUCCESS');
  assert.equal(ok!.retval, 0);
  assert.equal(ok!.len, Buffer.byteLength(ok!.query));
  assert.equal(ok!.database, 'postgres');
  assert.match(ok!.client ?? '', /^postgres@127\.0\.0\.1:\d+$/, 'user@client address');
  const [fail] = find(`nope_${TAG}`, 'simple');
  assert.equal(fail!.status, `ERROR 42P01: relation "nope_${TAG}" does not exist`);
  assert.equal(fail!.retval, 1);
  const [b] = find(`${TAG}_big_`, 'simple');
  assert.equal(b!.query, `select length('${big}') as n`, 'the 20 KB query arrives whole');
  assert.equal(b!.len, Buffer.byteLength(b!.query));
  assert.equal(b!.status, 'SUCCESS');
  const [h] = find(`${TAG}_huge_`, 'simple');
  assert.equal(h!.query, `select md5('${huge}') as h;`, 'the 100 KB query arrives whole (psql keeps the ; of a script)');
  assert.equal(h!.len, Buffer.byteLength(h!.query));
  assert.equal(find(`${TAG}_sqlps`, 'simple')[0]!.status, 'SUCCESS');
  assert.equal(find(`EXECUTE ${TAG}_s(21)`, 'simple')[0]!.status, 'SUCCESS');
  // extended protocol: Parse, then one execution per Bind
  assert.equal(find(`${TAG}_unnamed`, 'parse')[0]!.status, 'SUCCESS');
  assert.equal(find(`${TAG}_unnamed`, 'execute')[0]!.status, 'SUCCESS');
  assert.equal(find(`${TAG}_named`, 'parse').length, 1);
  const runs = find(`${TAG}_named`, 'execute');
  assert.deepEqual(runs.map((q) => q.status), ['SUCCESS', 'ERROR 22012: division by zero'], 'named statement run twice, the second fails');
  assert.ok(runs.every((q) => q.query === `select 100 / $1::int as ${TAG}_named`));
  assert.match(cap.stderr(), /lost 0 events/);
});

test('postgres: bad input is one clear error line', async (t) => {
  if (!canRunBpf(t)) return;
  const missing = await run(process.execPath, [CLI, 'postgres', '--postgres', '/nonexistent/postgres']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /--postgres \/nonexistent\/postgres: no such file/);
  const noSym = await run(process.execPath, [CLI, 'postgres', '--postgres', '/bin/true']);
  assert.notEqual(noSym.code, 0);
  assert.match(noSym.stderr, /symbol pg_parse_query \(or exec_simple_query\) not found in \/bin\/true/);
  assert.match(noSym.stderr, /--funcname/);
  if (bin) {
    const badFn = await run(process.execPath, [CLI, 'postgres', '--postgres', join(bin, 'postgres'), '--funcname', 'exec_simple_query']);
    assert.notEqual(badFn.code, 0);
    assert.match(badFn.stderr, /symbol exec_simple_query not found/, 'Debian\'s postgres does not export exec_simple_query');
  }
});
