/**
 * The end-to-end suite shared by bash.test.ts and zsh.test.ts: an interactive shell typed into through
 * tmux (a real pseudo-terminal), started before the capture: commands that succeed and fail, a multi-line
 * loop, a syntax/parse error, a `cd`, a 10 KB typed line, a 70 KB pasted line, `exit 3`; and -e 0.
 * Assertions only look at records of the shell the test started (its pid and unique markers), so other
 * shells on the machine do not matter.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canRunBpf, cleanup, needPrograms, sleep, startCapture, tempDir, waitFor, which } from './harness.js';

export interface ShellSpec {
  shell: 'bash' | 'zsh';
  /** how the interactive shell is started in the pane (after `env PS1=READY$ `) */
  argv: string[];
  /** what the shell reports for a line it cannot parse */
  syntaxError: { retval: number; message: string };
}

/** Register the suite's tests; returns the suite's scratch folder (valid once `before` ran). */
export function shellSuite(spec: ShellSpec): { dir: () => string } {
  let dir = '';
  const TAG = `${spec.shell[0]}t${randomBytes(4).toString('hex')}`;
  const SOCK = `ecap-${spec.shell}-${process.pid}`;

  interface ShellRec {
    pid: number;
    uid: number;
    comm: string;
    shell: string;
    tty?: string;
    cwd?: string;
    retval?: number;
    line: string;
  }

  const HEAD = /^\S+ PID:(\d+) TID:\d+ Comm:(.*?) UID:(\d+) (bash|zsh)(?: TTY:(\S+))?(?: CWD:(.*?))?(?: Retval:(-?\d+))?$/;

  /** Parse the text output of shell records: a header line, then the command's lines until the next header. */
  function parseShell(text: string): ShellRec[] {
    const out: ShellRec[] = [];
    let cur: ShellRec | undefined;
    const body: string[] = [];
    const close = (): void => {
      if (cur) {
        cur.line = body.join('\n');
        out.push(cur);
      }
      body.length = 0;
    };
    for (const l of text.split('\n')) {
      const m = HEAD.exec(l);
      if (m) {
        close();
        cur = { pid: Number(m[1]), comm: m[2]!, uid: Number(m[3]), shell: m[4]!, line: '' };
        if (m[5]) cur.tty = m[5];
        if (m[6]) cur.cwd = m[6];
        if (m[7]) cur.retval = Number(m[7]);
      } else if (cur) body.push(l);
    }
    close();
    // the encoder ends each record with a newline: the last body line is empty
    for (const r of out) r.line = r.line.replace(/\n$/, '');
    return out;
  }

  function tmux(...args: string[]): string {
    const r = spawnSync('tmux', ['-L', SOCK, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  /** Start the interactive shell in a tmux pane; returns its pid and tty ("pts/N"). */
  async function startShell(name: string, cwd: string): Promise<{ pid: number; tty: string }> {
    tmux('new-session', '-d', '-s', name, '-x', '250', '-y', '50', '-c', cwd, 'env', 'PS1=READY$ ', ...spec.argv);
    await waitFor(`${spec.shell} prompt`, () => tmux('capture-pane', '-p', '-t', name).includes('READY$'), 10_000);
    const [pid, tty] = tmux('display', '-p', '-t', name, '#{pane_pid} #{pane_tty}').trim().split(' ');
    return { pid: Number(pid), tty: tty!.replace(/^\/dev\//, '') };
  }

  function type(name: string, line: string): void {
    tmux('send-keys', '-t', name, '-l', line);
    tmux('send-keys', '-t', name, 'Enter');
  }

  /** Paste a long line as a terminal does (bracketed paste: the line editor takes it in one go), then Enter. */
  function paste(name: string, line: string): void {
    const f = join(dir, 'paste.txt');
    writeFileSync(f, line);
    tmux('load-buffer', '-b', 'p', f);
    tmux('paste-buffer', '-p', '-d', '-b', 'p', '-t', name);
    tmux('send-keys', '-t', name, 'Enter');
  }

  before(() => {
    dir = tempDir(`ecap-${spec.shell}-`);
  });

  after(() => {
    spawnSync('tmux', ['-L', SOCK, 'kill-server']);
    // tmux leaves its socket file behind
    rmSync(join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid?.() ?? 0}`, SOCK), { force: true });
    cleanup(dir);
  });

  test(`${spec.shell}: typed commands arrive with full text, exit status, pid, uid, tty and cwd (shell started before the capture)`, async (t) => {
    if (!canRunBpf(t) || !needPrograms(t, 'tmux', spec.shell)) return;
    const bin = which(spec.shell)!;
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    // the shell waits at its prompt before the capture starts: its first line must not be lost
    const sh = await startShell('all', dir);
    const cap = await startCapture([spec.shell, `--${spec.shell}`, bin], { dir });
    try {
      const long = `${TAG}_long_${randomBytes(5000).toString('hex')}`; // 10 KB + tag, one line
      type('all', `echo ${TAG}_ok`);
      type('all', `ls /nonexistent_${TAG}_fail`);
      type('all', `for i in 1 2`);
      type('all', `do echo ${TAG}_loop_$i`);
      type('all', `done`);
      type('all', `echo ${TAG}_syntax )(`);
      type('all', `cd ${sub} && echo ${TAG}_cd`);
      type('all', `echo ${TAG}_in_sub`);
      type('all', `: ${long}`);
      const huge = `${TAG}_huge_${'ab'.repeat(35_000)}`; // 70 KB: more than 64 KiB, five 16 KiB chunks
      paste('all', `: ${huge}`);
      type('all', `exit 3`);
      await waitFor('the last command', () => cap.events().includes('exit 3'), 20_000);
      await sleep(200);
      const recs = parseShell(cap.events().toString('utf8')).filter((r) => r.pid === sh.pid);
      const find = (s: string): ShellRec => {
        const r = recs.find((x) => x.line.includes(s));
        assert.ok(r, `a record with ${s.slice(0, 60)} (got: ${recs.map((x) => x.line.slice(0, 40)).join(' | ')})`);
        return r;
      };
      const ok = find(`${TAG}_ok`);
      assert.equal(ok.line, `echo ${TAG}_ok`);
      assert.equal(ok.retval, 0);
      assert.equal(ok.uid, 0);
      assert.equal(ok.comm, spec.shell);
      assert.equal(ok.shell, spec.shell);
      assert.equal(ok.tty, sh.tty, 'tty of the pane');
      assert.equal(ok.cwd, dir, 'cwd');
      assert.equal(find(`${TAG}_fail`).retval, 2, 'ls of a missing file exits 2');
      const loop = find(`${TAG}_loop_`);
      assert.equal(loop.line, `for i in 1 2\ndo echo ${TAG}_loop_$i\ndone`, 'a multi-line command is one record, lines joined');
      assert.equal(loop.retval, 0);
      assert.equal(find(`${TAG}_syntax`).retval, spec.syntaxError.retval, spec.syntaxError.message);
      const cd = find(`${TAG}_cd`);
      assert.equal(cd.cwd, dir, 'cwd is where the command was typed');
      assert.equal(find(`${TAG}_in_sub`).cwd, sub, 'the next command sees the new cwd');
      const l = find(`${TAG}_long_`);
      assert.equal(l.line, `: ${long}`, 'the 10 KB line arrives whole');
      assert.equal(l.retval, 0);
      const h = find(`${TAG}_huge_`);
      assert.equal(h.line, `: ${huge}`, 'the 70 KB pasted line arrives whole');
      assert.equal(h.retval, 0);
      const ex = recs.find((r) => r.line === 'exit 3');
      assert.ok(ex, 'exit is recorded');
      assert.equal(ex.retval, 3, 'exit status of the exit builtin');
      assert.equal(recs.length, 9, `one record per command: ${recs.map((r) => r.line.slice(0, 30)).join(' | ')}`);
    } finally {
      assert.equal(await cap.stop(), 0, cap.stderr());
    }
    assert.match(cap.stderr(), /lost 0 events/);
  });

  test(`${spec.shell}: -e 0 shows only commands that succeeded (JSON output)`, async (t) => {
    if (!canRunBpf(t) || !needPrograms(t, 'tmux', spec.shell)) return;
    const capDir = join(dir, 'json');
    mkdirSync(capDir);
    const cap = await startCapture([spec.shell, `--${spec.shell}`, which(spec.shell)!, '-e', '0', '--format', 'json'], { dir: capDir });
    try {
      const sh = await startShell('e0', dir);
      type('e0', `echo ${TAG}_e_ok1`);
      type('e0', `false ${TAG}_e_false`);
      type('e0', `ls /nonexistent_${TAG}_e_ls`);
      type('e0', `echo ${TAG}_e_ok2`);
      await waitFor('the last command', () => cap.events().includes(`${TAG}_e_ok2`), 20_000);
      await sleep(200);
      const recs = cap.events().toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((r) => r.type === 'shell' && r.pid === sh.pid);
      assert.deepEqual(recs.map((r) => r.line), [`echo ${TAG}_e_ok1`, `echo ${TAG}_e_ok2`]);
      for (const r of recs) {
        assert.equal(r.retval, 0);
        assert.equal(r.shell, spec.shell);
        assert.equal(r.module, spec.shell);
        assert.equal(r.tty, sh.tty);
        assert.equal(r.cwd, dir);
        assert.equal(r.comm, spec.shell);
        assert.equal(r.uid, 0);
      }
      tmux('kill-session', '-t', 'e0');
    } finally {
      await cap.stop();
    }
  });
  return { dir: () => dir };
}
