/** Registry entry of the `mysqld` module. The implementation is loaded lazily. */
import type { ModuleDescriptor } from '../../registry.js';
import { DEFAULT_MYSQLD } from './targets.js';

export const mysqldDescriptor: ModuleDescriptor = {
  name: 'mysqld',
  aliases: ['mysql', 'mariadb'],
  routes: ['mysqld', 'mysql'],
  displayName: 'MySQL',
  summary: 'audit the SQL that reaches MySQL/MariaDB servers: full query text, outcome, thread',
  description:
    'Hooks dispatch_command of mysqld/mariadbd and prints every query (COM_QUERY), prepared statement (COM_STMT_PREPARE) and execution (COM_STMT_EXECUTE, with the prepared text) a server thread runs: the full text whatever its length, its length, its outcome (SUCCESS or the SQL error, from Diagnostics_area::set_error_status), pid, thread and time. Both signatures are handled: MariaDB / MySQL 5.6 and MySQL 5.7 / 8.0 (COM_DATA).',
  examples: ['ecapture mysqld', 'ecapture mysqld --mysqld /usr/sbin/mysqld', 'ecapture mysqld -p $(pidof mariadbd)', 'ecapture mysqld --offset 0x83a5d0'],
  options: [
    { key: 'mysqld', long: 'mysqld', short: 'm', type: 'string', default: DEFAULT_MYSQLD, arg: 'path', jsonAliases: ['MysqlPath', 'mysqlpath'],
      description: 'mysqld/mariadbd binary to hook (with --pid and no --mysqld: that process\'s executable)' },
    { key: 'funcname', long: 'funcname', short: 'f', type: 'string', default: '', arg: 'symbol', jsonAliases: ['FuncName'],
      description: 'function to hook instead of the first dispatch_command symbol (mangled or plain name)' },
    { key: 'offset', long: 'offset', type: 'string', default: '0', arg: 'offset', jsonAliases: ['Offset'],
      description: 'file offset of dispatch_command (decimal or 0x-hex, e.g. 0x710410) for binaries without its symbol; 0 = find it by name' },
  ],
  async load() {
    const { MysqldModule } = await import('./module.js');
    return (config) => new MysqldModule(config);
  },
};
