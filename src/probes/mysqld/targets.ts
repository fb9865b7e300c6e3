/**
 * What `ecapture mysqld` hooks in a MySQL/MariaDB server binary.
 *
 * dispatch_command: --funcname (a symbol name, mangled or the plain name), else --offset (a file offset, as
 * eCapture's uprobe address; the symbol containing it names it when there is one), else the first defined
 * `dispatch_command` function in .dynsym/.symtab. Its signature decides the BPF program:
 *   - the mangled name mentions COM_DATA: MySQL 5.7/8.0, dispatch_command(THD *, const COM_DATA *, enum_server_command)
 *   - otherwise MariaDB and MySQL <= 5.6: dispatch_command(enum_server_command, THD *, char *packet, uint length, ...)
 * (a --offset without a symbol: the second, as eCapture does). The server's version comes from .rodata
 * ("10.11.19-MariaDB", "mysqld-8.0", "mysqld-5.7") and is only reported.
 * Optional: Diagnostics_area::set_error_status (the error a statement ends with), and for prepared
 * statements Statement_map::insert / Prepared_statement_map::insert (the statement object a PREPARE creates)
 * with Prepared_statement::execute_loop / execute_bulk_loop (the object an EXECUTE runs). eCapture has no
 * equivalent; my_net_write would also tell the statement id, but it runs once per result row.
 */
import type { Config } from '../../config/schema.js';
import { CaptureError } from '../../errors.js';
import { exePath } from '../../discovery/proc.js';
import type { ElfFile } from '../../elf/elf-file.js';
import type { AuditPlan, PlannedUprobe } from '../bash/audit-module.js';
import { findFunc, funcAt, funcsMatching, openTarget, parseOffset, type FuncPoint } from '../bash/symbols.js';

export const DEFAULT_MYSQLD = '/usr/sbin/mariadbd';

export type DispatchLayout = 'mysql56' | 'mysql57';

/** The signature of a dispatch_command symbol, from its (mangled) name. */
export function dispatchLayout(name: string): DispatchLayout {
  return name.includes('COM_DATA') ? 'mysql57' : 'mysql56';
}

/** The server flavour and version as its .rodata tells it (eCapture looks for "mysqld-8." / "mysqld-5.7"). */
export function serverVersion(rodata: string): string {
  const maria = /(\d+\.\d+\.\d+)-MariaDB/.exec(rodata);
  if (maria) return `MariaDB ${maria[1]}`;
  if (rodata.includes('mysqld-8.')) return 'MySQL 8.0';
  if (rodata.includes('mysqld-5.7')) return 'MySQL 5.7';
  if (rodata.includes('mysqld-5.6')) return 'MySQL 5.6';
  return 'unknown';
}

/** Is this symbol a dispatch_command function? (mangled `_Z16dispatch_command...` or plain C name) */
export function isDispatchSymbol(name: string): boolean {
  return /^_Z\d*dispatch_command\w+$/.test(name) || name === 'dispatch_command';
}

/** The full Diagnostics_area::set_error_status(uint, const char *msg, const char *sqlstate, ...) among overloads. */
export function pickSetErrorStatus(names: string[]): string | undefined {
  const full = names.filter((n) => n.startsWith('_ZN16Diagnostics_area16set_error_statusEjPKc'));
  full.sort((a, b) => b.length - a.length);
  return full[0];
}

function readVersion(elf: ElfFile): string {
  const m = elf.searchRodata(/\d+\.\d+\.\d+-MariaDB|mysqld-\d\.\d/);
  return serverVersion(m ? m[0] : '');
}

function binaryPath(config: Config): string {
  const flag = String(config.mysqld ?? '');
  const pid = Number(config.pid ?? 0);
  if (pid > 0 && (flag === '' || flag === DEFAULT_MYSQLD)) {
    const exe = exePath(pid);
    if (exe && /mysqld|mariadbd/.test(exe)) return exe;
    if (flag === '') {
      throw new CaptureError('ECAP_NO_TARGET', `--pid ${pid} (${exe ?? 'no such process'}) is not a mysqld/mariadbd`, { hint: 'pass --mysqld PATH' });
    }
  }
  return flag || DEFAULT_MYSQLD;
}

export function planMysqld(config: Config): AuditPlan {
  const path = binaryPath(config);
  const funcname = String(config.funcname ?? '');
  const offsetFlag = String(config.offset ?? '');
  const offset = offsetFlag && offsetFlag !== '0' ? parseOffset(offsetFlag, '--offset') : 0;
  const elf = openTarget(path, '--mysqld');
  try {
    let fn: FuncPoint | undefined;
    let layoutName: string;
    if (funcname) {
      fn = findFunc(elf, funcname) ?? funcsMatching(elf, new RegExp(`^_Z\\d+${funcname.replace(/\W/g, '')}\\w+$`))[0];
      if (!fn) {
        throw new CaptureError('ECAP_ATTACH_NO_SYMBOL', `symbol ${funcname} (--funcname) not found in ${path}`, {
          hint: 'list candidates with `nm -D ' + path + ' | grep dispatch_command`, or give the function\'s file offset with --offset',
        });
      }
      layoutName = fn.name;
    } else if (offset) {
      const vaddr = elf.offsetToVaddr(offset);
      if (vaddr === undefined) throw new CaptureError('ECAP_CONFIG_FLAG', `--offset 0x${offset.toString(16)} is outside the loadable segments of ${path}`);
      const named = funcAt(elf, vaddr);
      fn = { name: named?.name ?? `+0x${offset.toString(16)}`, offset, vaddr, size: 0 };
      layoutName = named?.name ?? '';
    } else {
      fn = funcsMatching(elf, /dispatch_command/).find((f) => isDispatchSymbol(f.name));
      if (!fn) {
        throw new CaptureError('ECAP_ATTACH_NO_SYMBOL', `symbol dispatch_command not found in ${path} (no .dynsym/.symtab entry)`, {
          hint: 'give the mangled name with --funcname, or the function\'s file offset with --offset (e.g. from a debug-symbol build)',
        });
      }
      layoutName = fn.name;
    }
    const layout = dispatchLayout(layoutName);
    const warnings: string[] = [];
    if (offset && !layoutName) warnings.push(`--offset 0x${offset.toString(16)} names no symbol: assuming the MariaDB / MySQL 5.6 signature of dispatch_command`);
    const related = funcsMatching(elf, /Diagnostics_area16set_error_status|Statement_map6insert|Prepared_statement(12execute_loop|17execute_bulk_loop)/);
    const errName = pickSetErrorStatus(related.map((f) => f.name));
    const errFn = related.find((f) => f.name === errName);
    const insert = related.find((f) => /^_ZN13Statement_map6insertE/.test(f.name));
    const insert8 = related.find((f) => /^_ZN22Prepared_statement_map6insertE/.test(f.name));
    const execLoops = related.filter((f) => /^_ZN18Prepared_statement(12execute_loop|17execute_bulk_loop)E/.test(f.name));
    const entry = layout === 'mysql57' ? 'uprobe_dispatch_command_57' : 'uprobe_dispatch_command';
    const uprobes: PlannedUprobe[] = [
      { program: entry, path, offset: fn.offset, cookie: fn.vaddr, symbol: fn.name },
      { program: 'uretprobe_dispatch_command', path, offset: fn.offset, retprobe: true, symbol: fn.name },
    ];
    if (errFn) uprobes.push({ program: 'uprobe_set_error_status', path, offset: errFn.offset, symbol: 'Diagnostics_area::set_error_status' });
    else warnings.push(`Diagnostics_area::set_error_status not found in ${path}: failed statements show no SQL error`);
    // the statement object: argument 2 of Statement_map::insert(this, THD *, Statement *), 1 of MySQL 8's
    // Prepared_statement_map::insert(this, Prepared_statement *) (the attach cookie tells the BPF side)
    const ins = insert ? { f: insert, arg: 2 } : insert8 ? { f: insert8, arg: 1 } : undefined;
    if (ins && execLoops.length) {
      uprobes.push({ program: 'uprobe_stmt_insert', path, offset: ins.f.offset, cookie: ins.arg, symbol: ins.f.name });
      for (const f of execLoops) uprobes.push({ program: 'uprobe_stmt_execute', path, offset: f.offset, symbol: f.name });
    } else {
      warnings.push(`Statement_map::insert / Prepared_statement::execute_loop not found in ${path}: COM_STMT_EXECUTE shows the statement id, not its text`);
    }
    return {
      object: 'db/mysqld',
      rodata: {},
      uprobes,
      tracepoints: [],
      files: [path],
      info: { mysqld: path, version: readVersion(elf), function: fn.name, signature: layout === 'mysql57' ? '5.7/8.0 (COM_DATA)' : 'MariaDB/5.6' },
      warnings,
    };
  } finally {
    elf.close();
  }
}
