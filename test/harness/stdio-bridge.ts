import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Builds portcullis-stdio-bridge (Go, static) into the cache, keyed by its source, once: the same binary
 * the image ships and an init container installs into a stdio server's pod (`install DEST`).
 */
const source = join(import.meta.dirname, '../../stdio-bridge');

export async function stdioBridgeBinary(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of readdirSync(source).sort()) {
    if (file.endsWith('.go') || file === 'go.mod') hash.update(file).update(readFileSync(join(source, file)));
  }
  const digest = hash.digest('hex').slice(0, 16);
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
