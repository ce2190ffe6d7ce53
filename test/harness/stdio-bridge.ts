import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Builds portcullis-stdio-bridge (Go, static) into the cache, keyed by its source, once: the same binary
 * the image ships and an init container copies into a stdio server's pod.
 */
const source = join(import.meta.dirname, '../../stdio-bridge');

export async function stdioBridgeBinary(): Promise<string> {
  const digest = createHash('sha256')
    .update(readFileSync(join(source, 'main.go')))
    .update(readFileSync(join(source, 'go.mod')))
    .digest('hex')
    .slice(0, 16);
  const dir = join(process.env['PORTCULLIS_CACHE'] ?? join(homedir(), '.cache/portcullis'), 'stdio-bridge');
  const binary = join(dir, `portcullis-stdio-bridge-${digest}`);
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  await promisify(execFile)('go', ['build', '-trimpath', '-o', binary, '.'], {
    cwd: source,
    env: { ...process.env, CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' },
  });
  return binary;
}
