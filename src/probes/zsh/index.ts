/** Registry entry of the `zsh` module. The implementation is loaded lazily. */
import type { ModuleDescriptor } from '../../registry.js';
import { errnumberOption } from '../bash/index.js';

export const zshDescriptor: ModuleDescriptor = {
  name: 'zsh',
  aliases: [],
  routes: ['zsh'],
  displayName: 'Zsh',
  summary: 'audit the commands typed into interactive zsh shells, with exit status, user, tty and cwd',
  description:
    'Hooks zleentry (the line editor: the line typed at the prompt) and execode (the run of each command) of zsh, and prints every command typed into an interactive zsh: all its lines (multi-line commands joined), its exit status, pid, uid, comm, tty and working directory. Lines of any length arrive whole. Scripts and `zsh -c` do not use the line editor and are not shown.',
  examples: ['ecapture zsh', 'ecapture zsh -e 1', 'ecapture zsh --zsh /usr/local/bin/zsh'],
  options: [
    { key: 'zsh', long: 'zsh', type: 'string', default: '', arg: 'path', jsonAliases: ['zshpath'],
      description: 'zsh binary to hook (default: $SHELL when it is a zsh, else /bin/zsh)' },
    errnumberOption,
  ],
  async load() {
    const { ZshModule } = await import('./module.js');
    return (config) => new ZshModule(config);
  },
};
