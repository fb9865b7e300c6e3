/**
 * What `ecapture postgres` hooks in the postgres server binary (--postgres, else the --pid's executable,
 * else the newest of /usr/lib/postgresql/<N>/bin/postgres, /usr/pgsql-<N>/bin/postgres,
 * /usr/local/pgsql/bin/postgres, /usr/bin/postgres).
 *
 * The statement text: --funcname, else pg_parse_query (exported: Debian's postgres has no .symtab, and
 * eCapture's exec_simple_query is static there), else exec_simple_query when a .symtab has it. The other
 * hooks (see bpf/db/postgres.bpf.c) are optional and each one adds something: pq_getbyte (which protocol
 * message a text came in; without it every call of the text function is reported), pgstat_report_activity
 * (executions of prepared statements, at their Bind message), pq_endmessage (errors), ReadyForQuery (success), MyProcPort (database, user, client;
 * its struct Port layout is known for PostgreSQL 12 to 15).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import type { Config } from '../../config/schema.js';
import { CaptureError } from '../../errors.js';
import { exePath } from '../../discovery/proc.js';
import { rodata } from '../../bpf/object.js';
import type { ElfFile } from '../../elf/elf-file.js';
import type { AuditPlan, PlannedUprobe } from '../bash/audit-module.js';
import { findFunc, findVar, noSymbol, openTarget } from '../bash/symbols.js';

/** struct Port offsets (x86-64/arm64 LP64) of the char * members read for the session, by major version. */
export interface PortLayout {
  database: number;
  user: number;
  host: number;
  port: number;
}

/*
 * From src/include/libpq/libpq-be.h (12..15): sock int @0, noblock bool @4, proto u32 @8, laddr and raddr
 * SockAddr (sockaddr_storage 128 + socklen_t, 136 bytes each) @16 and @152, remote_host @288, remote_hostname
 * @296, remote_hostname_resolv/_errcode @304/@308, remote_port @312, canAcceptConnections @320,
 * database_name @328, user_name @336.
 */
const PORT_12_15: PortLayout = { database: 328, user: 336, host: 288, port: 312 };

export function portLayout(major: number): PortLayout | undefined {
  return major >= 12 && major <= 15 ? PORT_12_15 : undefined;
}

/** "PostgreSQL 15.18 (Debian ...)" in .rodata → 15 */
export function postgresMajor(rodataText: string): number | undefined {
  // PG_VERSION_STR: "PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu, compiled by ..."
  const m = /PostgreSQL (\d+)(?:\.(\d+))?(?:\.\d+)?(?:[a-z]+\d*)?(?: \([^)]*\))? on [\w.-]+, compiled by/.exec(rodataText);
  if (!m) return undefined;
  const major = Number(m[1]);
  return major >= 10 ? major : Number(`${m[1]}.${m[2] ?? 0}`); // 9.6 style
}

/** Candidate server binaries, newest major first. */
export function candidatePaths(): string[] {
  const out: string[] = [];
  const majors = (dir: string, re: RegExp): string[] => {
    try {
      return readdirSync(dir).filter((n) => re.test(n)).sort((a, b) => parseFloat(b.replace(/^\D+/, '')) - parseFloat(a.replace(/^\D+/, '')));
    } catch {
      return [];
    }
  };
  for (const v of majors('/usr/lib/postgresql', /^\d+(\.\d+)?$/)) out.push(`/usr/lib/postgresql/${v}/bin/postgres`);
  for (const v of majors('/usr', /^pgsql-\d+$/)) out.push(`/usr/${v}/bin/postgres`);
  out.push('/usr/local/pgsql/bin/postgres', '/usr/bin/postgres', '/usr/local/bin/postgres', '/opt/postgresql/bin/postgres');
  return out;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

export function postgresPath(config: Config): string {
  const flag = String(config.postgres ?? '');
  if (flag) return flag;
  const pid = Number(config.pid ?? 0);
  if (pid > 0) {
    const exe = exePath(pid);
    if (exe && /postgres|postmaster/.test(exe)) return exe;
    throw new CaptureError('ECAP_NO_TARGET', `--pid ${pid} (${exe ?? 'no such process'}) is not a postgres backend`, { hint: 'pass --postgres PATH' });
  }
  const found = candidatePaths().find(isFile);
  if (!found) {
    throw new CaptureError('ECAP_NO_TARGET', `no postgres binary found (looked in ${candidatePaths().join(', ')})`, { hint: 'pass --postgres PATH' });
  }
  return found;
}

function readMajor(elf: ElfFile): number | undefined {
  const m = elf.searchRodata(/PostgreSQL \d+[^\0]{0,120}? on [\w.-]+, compiled by/);
  return m ? postgresMajor(m[0]) : undefined;
}

export function planPostgres(config: Config): AuditPlan {
  const path = postgresPath(config);
  const funcname = String(config.funcname ?? '');
  const elf = openTarget(path, '--postgres');
  try {
    const textFn = funcname ? findFunc(elf, funcname) : (findFunc(elf, 'pg_parse_query') ?? findFunc(elf, 'exec_simple_query'));
    if (!textFn) {
      throw noSymbol(funcname || 'pg_parse_query (or exec_simple_query)', path,
        'pass --funcname with a function whose first argument is the query text (see `nm -D ' + path + '`)');
    }
    const warnings: string[] = [];
    const getbyte = findFunc(elf, 'pq_getbyte');
    const activity = findFunc(elf, 'pgstat_report_activity');
    const endmsg = findFunc(elf, 'pq_endmessage');
    const ready = findFunc(elf, 'ReadyForQuery');
    const port = findVar(elf, 'MyProcPort');
    const major = readMajor(elf);
    const layout = major !== undefined ? portLayout(major) : undefined;
    const uprobes: PlannedUprobe[] = [
      { program: 'uprobe_pg_query', path, offset: textFn.offset, cookie: textFn.vaddr, symbol: textFn.name },
    ];
    if (getbyte) uprobes.push({ program: 'uretprobe_pq_getbyte', path, offset: getbyte.offset, retprobe: true, symbol: 'pq_getbyte' });
    else warnings.push(`pq_getbyte not found in ${path}: every call of ${textFn.name} is reported, without its protocol message`);
    if (getbyte && activity) {
      uprobes.push({ program: 'uprobe_pgstat_report_activity', path, offset: activity.offset, cookie: activity.vaddr, symbol: 'pgstat_report_activity' });
    } else warnings.push(`pgstat_report_activity not found in ${path}: executions of prepared statements (extended protocol) are not reported`);
    if (endmsg) uprobes.push({ program: 'uprobe_pq_endmessage', path, offset: endmsg.offset, symbol: 'pq_endmessage' });
    else warnings.push(`pq_endmessage not found in ${path}: failed statements are not told apart`);
    if (ready) uprobes.push({ program: 'uprobe_ready_for_query', path, offset: ready.offset, cookie: ready.vaddr, symbol: 'ReadyForQuery' });
    else warnings.push(`ReadyForQuery not found in ${path}: a statement's outcome is known only when the next one starts`);
    if (!port) warnings.push(`MyProcPort not found in ${path}: no database/user/client`);
    else if (!layout) warnings.push(`PostgreSQL ${major ?? '?'}: struct Port layout not known here, no database/user/client`);
    const pid = Number(config.pid ?? 0);
    if (pid > 0) {
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0+$/, '').replace(/\0/g, ' ');
      } catch {
        /* checked in postgresPath */
      }
      if (!cmdline.startsWith('postgres: ')) {
        warnings.push(`--pid ${pid} (${cmdline || '?'}) is not a backend: --pid keeps one backend (one session); the postmaster runs no queries`);
      }
    }
    const use = port && layout;
    return {
      object: 'db/postgres',
      rodata: {
        have_msgtype: rodata.u32(getbyte ? 1 : 0),
        myprocport_vaddr: rodata.u64(use ? port : 0),
        port_off_database: rodata.u32(use ? layout.database : 0),
        port_off_user: rodata.u32(use ? layout.user : 0),
        port_off_host: rodata.u32(use ? layout.host : 0),
        port_off_port: rodata.u32(use ? layout.port : 0),
      },
      uprobes,
      tracepoints: [['tp_pg_exit', 'sched', 'sched_process_exit']],
      files: [path],
      info: { postgres: path, version: major ?? 'unknown', function: textFn.name, session: use ? 'MyProcPort' : 'none' },
      warnings,
    };
  } finally {
    elf.close();
  }
}
