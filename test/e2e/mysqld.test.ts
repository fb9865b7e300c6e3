/**
 * `ecapture mysqld` against a MariaDB server started here (temporary datadir, 127.0.0.1, a free port):
 * queries sent with the mariadb client (a plain one, a failing one, a 20 KB and a 200 KB one, SQL
 * PREPARE/EXECUTE, USE),
 * and binary-protocol prepared statements (COM_STMT_PREPARE/EXECUTE) sent by a minimal client below.
 * The capture is limited to the server's pid (-p), and records are matched by unique markers.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import {
  CLI, canRunBpf, cleanup, freePort, needPrograms, run, sleep, startCapture, startProcess, tempDir, waitFor, which, type Proc,
} from './harness.js';

const TAG = `my${randomBytes(4).toString('hex')}`;
let dir = '';
let port = 0;
let server: Proc | undefined;
let mariadbd = '';

interface QueryRec {
  pid: number;
  tid: number;
  comm: string;
  db: string;
  kind?: string;
  len: number;
  database?: string;
  client?: string;
  retval?: number;
  status: string;
  query: string;
}

const HEAD = /^\S+ PID:(\d+) TID:(\d+) Comm:(.*?) UID:\d+ (mysqld|postgres)(?: Kind:(\S+))? Len:(\d+)(?: DB:(\S+))?(?: Client:(\S+))?(?: Retval:(-?\d+))? Status:(.*)$/;

/** Parse the text output of query records: a header line, then the query until the next header. */
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
      cur = { pid: Number(m[1]), tid: Number(m[2]), comm: m[3]!, db: m[4]!, len: Number(m[6]), status: m[10]!, query: '' };
      if (m[5]) cur.kind = m[5];
      if (m[7]) cur.database = m[7];
      if (m[8]) cur.client = m[8];
      if (m[9]) cur.retval = Number(m[9]);
    } else if (cur) body.push(l);
  }
  close();
  return out;
}

/** A minimal MySQL protocol client: handshake as root without password, COM_QUERY, COM_STMT_PREPARE/EXECUTE. */
class MiniMysql {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private seq = 0;
  private constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  static async connect(p: number): Promise<MiniMysql> {
    const sock = connect(p, '127.0.0.1');
    await new Promise<void>((res, rej) => sock.once('connect', () => res()).once('error', rej));
    const c = new MiniMysql(sock);
    await c.packet(); // HandshakeV10
    const caps = 0x1 | 0x200 | 0x2000 | 0x8000 | 0x80000; // LONG_PASSWORD, PROTOCOL_41, TRANSACTIONS, SECURE_CONNECTION, PLUGIN_AUTH
    const body = Buffer.concat([
      u32(caps), u32(1 << 24), Buffer.from([33]), Buffer.alloc(23),
      Buffer.from('root\0'), Buffer.from([0]), Buffer.from('mysql_native_password\0'),
    ]);
    c.send(body, 1);
    let r = await c.packet();
    if (r[0] === 0xfe) {
      c.send(Buffer.alloc(0), c.seq + 1); // auth switch: the empty password's answer is empty
      r = await c.packet();
    }
    if (r[0] !== 0) throw new Error(`mysql login failed: ${r.toString('latin1')}`);
    return c;
  }

  private async packet(): Promise<Buffer> {
    for (;;) {
      if (this.buf.length >= 4) {
        const len = this.buf.readUIntLE(0, 3);
        if (this.buf.length >= 4 + len) {
          this.seq = this.buf[3]!;
          const p = this.buf.subarray(4, 4 + len);
          this.buf = this.buf.subarray(4 + len);
          return p;
        }
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  private send(body: Buffer, seq = 0): void {
    const h = Buffer.alloc(4);
    h.writeUIntLE(body.length, 0, 3);
    h[3] = seq;
    this.sock.write(Buffer.concat([h, body]));
  }

  /** Read a (text or binary) result set or an OK/ERR; returns the first packet. */
  private async result(): Promise<Buffer> {
    const first = await this.packet();
    if (first[0] === 0 || first[0] === 0xff) return first;
    const cols = first[0]!;
    for (let i = 0; i < cols; i++) await this.packet();
    await this.packet(); // EOF
    for (;;) {
      const p = await this.packet();
      if (p[0] === 0xfe && p.length < 9) return first;
      if (p[0] === 0xff) return p;
    }
  }

  async query(sql: string): Promise<Buffer> {
    this.send(Buffer.concat([Buffer.from([3]), Buffer.from(sql)]));
    return this.result();
  }

  /** COM_STMT_PREPARE; returns the statement id and parameter count, or the ERR packet. */
  async prepare(sql: string): Promise<{ id: number; params: number } | Buffer> {
    this.send(Buffer.concat([Buffer.from([22]), Buffer.from(sql)]));
    const ok = await this.packet();
    if (ok[0] !== 0) return ok;
    const id = ok.readUInt32LE(1);
    const cols = ok.readUInt16LE(5);
    const params = ok.readUInt16LE(7);
    if (params) for (let i = 0; i <= params; i++) await this.packet();
    if (cols) for (let i = 0; i <= cols; i++) await this.packet();
    return { id, params };
  }

  /** COM_STMT_EXECUTE with BIGINT parameters. */
  async execute(id: number, values: bigint[]): Promise<Buffer> {
    const parts = [Buffer.from([23]), u32(id), Buffer.from([0]), u32(1)];
    if (values.length) {
      parts.push(Buffer.alloc((values.length + 7) >> 3), Buffer.from([1]));
      for (let i = 0; i < values.length; i++) parts.push(Buffer.from([8, 0])); // MYSQL_TYPE_LONGLONG
      for (const v of values) {
        const b = Buffer.alloc(8);
        b.writeBigInt64LE(v);
        parts.push(b);
      }
    }
    this.send(Buffer.concat(parts));
    return this.result();
  }

  close(): void {
    this.send(Buffer.from([1])); // COM_QUIT
    this.sock.end();
  }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

before(async () => {
  if (process.getuid?.() !== 0 || !which('mariadbd') || !which('mariadb-install-db')) return;
  mariadbd = which('mariadbd')!;
  dir = tempDir('ecap-mysqld-');
  const data = join(dir, 'data');
  const inst = spawnSync('mariadb-install-db', [`--datadir=${data}`, '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db'], { encoding: 'utf8' });
  if (inst.status !== 0) throw new Error(`mariadb-install-db failed: ${inst.stderr}`);
  port = await freePort();
  server = startProcess(mariadbd, ['--no-defaults', `--datadir=${data}`, '--user=root', '--bind-address=127.0.0.1', `--port=${port}`,
    `--socket=${join(dir, 'sock')}`, '--skip-log-bin', `--pid-file=${join(dir, 'pid')}`, '--innodb-buffer-pool-size=16M']);
  await waitFor('mariadbd to accept connections', () => {
    if (server!.child.exitCode !== null) throw new Error(`mariadbd exited: ${server!.stderr()}`);
    return spawnSync('mariadb', ['-h', '127.0.0.1', '-P', String(port), '-u', 'root', '-e', 'select 1'], { encoding: 'utf8' }).status === 0;
  }, 30_000, 200);
});

after(async () => {
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGTERM');
    const t = setTimeout(() => server!.child.kill('SIGKILL'), 20_000);
    await server.exited;
    clearTimeout(t);
  }
  if (dir) cleanup(dir);
});

const mariadb = (sql: string): Promise<{ code: number | string; stdout: string; stderr: string }> =>
  run('mariadb', ['-h', '127.0.0.1', '-P', String(port), '-u', 'root', '-e', sql]);

test('mysqld: queries, a failing query, a 20 KB query and prepared statements arrive with text and status', async (t) => {
  if (!canRunBpf(t) || !needPrograms(t, 'mariadbd', 'mariadb-install-db', 'mariadb')) return;
  assert.ok(server, 'mariadbd started');
  const cap = await startCapture(['mysqld', '--mysqld', mariadbd, '-p', String(server.pid)], { dir });
  const big = `${TAG}_big_${'x'.repeat(20 * 1024)}`;
  const huge = `${TAG}_huge_${'0123456789'.repeat(20_000)}`; // 200 KB: thirteen 16 KiB chunks
  try {
    assert.equal((await mariadb(`select '${TAG}_ok' as a`)).code, 0);
    assert.notEqual((await mariadb(`select * from nope_${TAG}.t`)).code, 0);
    const r = await mariadb(`select length('${big}') as n`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${big.length}`));
    // longer than one exec argument may be (128 KiB): through stdin
    const viaStdin = spawnSync('mariadb', ['-h', '127.0.0.1', '-P', String(port), '-u', 'root'], { input: `select md5('${huge}') as h;\n`, encoding: 'utf8' });
    assert.equal(viaStdin.status, 0, viaStdin.stderr);
    assert.equal((await mariadb(`PREPARE s FROM 'select ? + 1 as ${TAG}_sqlps'; EXECUTE s USING 41; create database if not exists db_${TAG}; use db_${TAG}; select '${TAG}_in_db'`)).code, 0);
    // binary protocol
    const c = await MiniMysql.connect(port);
    const ps = await c.prepare(`select ? * 2 as ${TAG}_bin`);
    assert.ok(!Buffer.isBuffer(ps), 'prepare ok');
    const ex = await c.execute(ps.id, [21n]);
    assert.notEqual(ex[0], 0xff, 'execute ok');
    const bad = await c.prepare(`select * from nope_${TAG}_ps.t where a = ?`);
    assert.ok(Buffer.isBuffer(bad) && bad[0] === 0xff, 'the bad prepare fails');
    c.close();
    await waitFor('the last query', () => cap.events().includes(`nope_${TAG}_ps`), 15_000);
    await sleep(200);
  } finally {
    assert.equal(await cap.stop(), 0, cap.stderr());
  }
  const recs = parseQueries(cap.events().toString('utf8'));
  assert.ok(recs.every((q) => q.pid === server!.pid), 'only the chosen server');
  const find = (s: string, kind?: string): QueryRec => {
    const q = recs.find((x) => x.query.includes(s) && (!kind || x.kind === kind));
    assert.ok(q, `a ${kind ?? ''} record with ${s.slice(0, 50)}: ${recs.map((x) => `${x.kind}:${x.query.slice(0, 40)}`).join(' | ')}`);
    return q;
  };
  const ok = find(`${TAG}_ok`);
  assert.equal(ok.query, `select '${TAG}_ok' as a`);
  assert.equal(ok.status, 'SUCCESS');
  assert.equal(ok.retval, 0);
  assert.equal(ok.kind, 'query');
  assert.equal(ok.len, Buffer.byteLength(ok.query));
  assert.equal(ok.comm, 'mariadbd');
  assert.notEqual(ok.tid, ok.pid, 'the connection thread, not the main thread');
  const fail = find(`nope_${TAG}.t`);
  assert.match(fail.status, new RegExp(`^ERROR 1146 \\(42S02\\): Table 'nope_${TAG}\\.t' doesn't exist$`));
  assert.equal(fail.retval, 1146);
  const b = find(`${TAG}_big_`);
  assert.equal(b.query, `select length('${big}') as n`, 'the 20 KB query arrives whole');
  assert.equal(b.len, Buffer.byteLength(b.query), 'Len is the full length');
  assert.equal(b.status, 'SUCCESS');
  const h = find(`${TAG}_huge_`);
  assert.equal(h.query, `select md5('${huge}') as h`, 'the 200 KB query arrives whole');
  assert.equal(h.len, Buffer.byteLength(h.query));
  assert.equal(find(`${TAG}_sqlps`).status, 'SUCCESS');
  assert.equal(find('EXECUTE s USING 41').status, 'SUCCESS');
  assert.equal(find(`${TAG}_in_db`).database, `db_${TAG}`, 'USE is followed');
  const prep = find(`${TAG}_bin`, 'prepare');
  assert.equal(prep.query, `select ? * 2 as ${TAG}_bin`);
  assert.equal(prep.status, 'SUCCESS');
  const exec = find(`${TAG}_bin`, 'execute');
  assert.equal(exec.query, `select ? * 2 as ${TAG}_bin`, 'COM_STMT_EXECUTE shows the prepared text');
  assert.equal(exec.status, 'SUCCESS');
  const badPrep = find(`nope_${TAG}_ps`, 'prepare');
  assert.match(badPrep.status, /^ERROR 1146 \(42S02\)/);
  assert.match(cap.stderr(), /lost 0 events/);
});

test('mysqld: bad input is one clear error line', async (t) => {
  if (!canRunBpf(t)) return;
  const missing = await run(process.execPath, [CLI, 'mysqld', '--mysqld', '/nonexistent/mariadbd']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /--mysqld \/nonexistent\/mariadbd: no such file/);
  const noSym = await run(process.execPath, [CLI, 'mysqld', '--mysqld', '/bin/true']);
  assert.notEqual(noSym.code, 0);
  assert.match(noSym.stderr, /symbol dispatch_command not found in \/bin\/true/);
  assert.match(noSym.stderr, /--funcname|--offset/);
  const badFn = await run(process.execPath, [CLI, 'mysqld', '--mysqld', '/bin/true', '--funcname', 'no_such_fn']);
  assert.match(badFn.stderr, /symbol no_such_fn \(--funcname\) not found/);
  const badOff = await run(process.execPath, [CLI, 'mysqld', '--mysqld', '/bin/true', '--offset', 'zz']);
  assert.match(badOff.stderr, /--offset zz: not an offset/);
});
