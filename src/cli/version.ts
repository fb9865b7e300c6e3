/** Version strings (eCapture prints `<os_arch>:<version>:<kernel>`). */
import { readFileSync } from 'node:fs';
import { release, arch } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../util/paths.js';

function readVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

export const VERSION = readVersion();

export function versionLine(): string {
  const a = arch() === 'x64' ? 'x86_64' : arch();
  return `ecapture-ts version:\tlinux_${a}:v${VERSION}:${release()}`;
}
