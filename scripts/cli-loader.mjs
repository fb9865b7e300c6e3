// dist/ecapture.mjs, copied from scripts/cli-loader.mjs by scripts/setup.sh; edit the original
/*
 * Starts the CLI bundle (dist/ecapture.cjs) with V8's code cache: the first start compiles the bundle and,
 * a moment after it is up, saves the compiled code beside it; later starts deserialize it instead of
 * compiling (~50 ms less per start on the project's VM, measured to "capture started"). V8 checks a cache
 * against the source, its own version and the flags, and rejects one that does not fit: the bundle then
 * compiles as usual and the cache is written again. One cache per node version and flag set (bin/ecapture's
 * flags differ from the tests'), so they do not replace each other. The caches live beside the bundle: whoever
 * can change them can change the bundle itself.
 */
import { isAscii } from 'node:buffer';
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const dir = dirname(fileURLToPath(import.meta.url));
const file = join(dir, 'ecapture.cjs');
let source;
try {
  const bytes = readFileSync(file);
  // setup.sh makes the bundle ASCII, for which latin1 is the quick exact decode
  source = isAscii(bytes) ? bytes.latin1Slice(0, bytes.length) : bytes.toString('utf8');
} catch (e) {
  process.stderr.write(`error: cannot read ${file} (${e.code ?? e.message}): run scripts/setup.sh to build the CLI\n`);
  process.exit(1);
}
const flags = createHash('sha256').update(`${process.version} ${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`).digest('hex').slice(0, 12);
const cacheFile = join(dir, `ecapture.cjs.${flags}.v8cache`);
let cachedData;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  /* first start with these flags */
}
const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
  filename: file,
  ...(cachedData ? { cachedData } : {}),
});
if (!cachedData || script.cachedDataRejected) {
  // after startup, so that the functions startup ran are compiled into the cache too; never fatal
  setTimeout(() => {
    const tmp = `${cacheFile}.${process.pid}`;
    try {
      writeFileSync(tmp, script.createCachedData(), { mode: 0o644, flag: 'wx' });
      renameSync(tmp, cacheFile);
    } catch {
      rmSync(tmp, { force: true });
    }
  }, 1500).unref();
}
const mod = { exports: {} };
script.runInThisContext().call(mod.exports, mod.exports, createRequire(file), mod, file, dir);
mod.exports.runCli();
