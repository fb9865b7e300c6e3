/** Registry entry of the `bash` module. The implementation is loaded lazily. */
import type { ModuleDescriptor } from '../../registry.js';
import type { OptionSpec } from '../../config/options.js';

/** -e/--errnumber, shared with zsh. */
export const errnumberOption: OptionSpec = {
  key: 'errnumber', long: 'errnumber', short: 'e', type: 'int', min: 0, max: 255, arg: 'N', jsonAliases: ['errno'],
  description: 'show only commands whose exit status is N (default: all commands; eCapture\'s default 128 meant "all")',
};

export const bashDescriptor: ModuleDescriptor = {
  name: 'bash',
  aliases: [],
  routes: ['bash'],
  displayName: 'Bash',
  summary: 'audit the commands typed into interactive bash shells, with exit status, user, tty and cwd',
  description:
    'Hooks readline (the line typed at the prompt) and execute_command (its exit status) of bash, and prints every command typed into an interactive bash: all its lines (multi-line commands joined), its exit status, pid, uid, comm, tty and working directory. Lines of any length arrive whole. Scripts and `bash -c` do not read lines with readline and are not shown.',
  examples: ['ecapture bash', 'ecapture bash -e 0', 'ecapture bash --bash /usr/local/bin/bash', 'ecapture bash --pid 1234'],
  options: [
    { key: 'bash', long: 'bash', type: 'string', default: '', arg: 'path', jsonAliases: ['bashpath'],
      description: 'bash binary to hook (default: $SHELL when it is a bash, else /bin/bash)' },
    { key: 'readlineso', long: 'readlineso', type: 'string', default: '', arg: 'path', jsonAliases: ['readline'],
      description: 'libreadline.so to hook readline in (default: bash itself when readline is built in, else the libreadline it needs)' },
    errnumberOption,
  ],
  async load() {
    const { BashModule } = await import('./module.js');
    return (config) => new BashModule(config);
  },
};
