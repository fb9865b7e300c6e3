/** Registry entry of the `nss` module (alias `nspr`, eCapture's name). The implementation is loaded lazily. */
import type { ModuleDescriptor } from '../../registry.js';
import { modelAliases, modelChoices } from '../../config/options.js';

export const NSS_KEYS_LIMIT =
  'NSS keeps TLS secrets inside its PKCS #11 token (softoken) as key objects and hands them out only through\n' +
  'function calls; it has no exported hook that sees them in memory, and Debian\'s NSS is built without\n' +
  'SSLKEYLOGFILE support. So this module captures plaintext only (text mode); keylog and pcap modes are refused.';

export const nssDescriptor: ModuleDescriptor = {
  name: 'nss',
  aliases: ['nspr'],
  routes: ['nss', 'nspr'],
  displayName: 'NSPR',
  summary: 'capture TLS plaintext of NSS/NSPR users (Firefox, Thunderbird, NSS tools such as tstclnt and selfserv)',
  description:
    'Hooks PR_Write/PR_Send and PR_Read/PR_Recv of every libnspr4 (and of Firefox\'s libnss3, which folds NSPR in) on\n' +
    'the system and in running processes, and of programs started later, and prints what goes through NSS\'s SSL layer\n' +
    'in plaintext. Calls on files, pipes and plain sockets are not reported.\n\n' + NSS_KEYS_LIMIT,
  examples: [
    'ecapture nss',
    'ecapture nspr -p 1234 --hex',
    'ecapture nss --nspr /usr/lib/x86_64-linux-gnu/libnspr4.so',
    'ecapture nss --nspr /usr/lib/firefox/libnss3.so',
  ],
  options: [
    { key: 'nspr', long: 'nspr', type: 'string', default: '', arg: 'path',
      description: 'hook this libnspr4.so (or a file exporting PR_Write/PR_Read, e.g. Firefox\'s libnss3.so) only; default: every one found', jsonAliases: ['nsprpath', 'nspr_path'] },
    { key: 'model', long: 'model', short: 'm', type: 'enum', choices: modelChoices, aliases: modelAliases, default: 'text', arg: 'mode',
      description: 'capture mode: text only (NSS secrets cannot be read; see the description)', jsonAliases: ['capturemode', 'capture_mode'] },
    { key: 'cgroupPath', long: 'cgroup_path', type: 'string', default: '', arg: 'dir', live: true,
      description: 'capture only processes in this cgroup v2 directory', jsonAliases: ['cgroup_path'] },
  ],
  async load() {
    const { NssModule } = await import('./module.js');
    return (config) => new NssModule(config);
  },
};
