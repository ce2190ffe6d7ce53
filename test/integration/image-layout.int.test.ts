import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorSettingsSchema } from '../../operator/settings.ts';
import { copyTarget, finalStage, type DockerfileStage } from '../harness/dockerfile.ts';
import {
  hasInterpreter,
  listLayer,
  memberSha256,
  openImageArchive,
  unpackLayers,
  type ImageArchive,
} from '../harness/image-archive.ts';

/**
 * `make image` builds the images without a Docker engine (scripts/image/). This holds its result to the
 * Dockerfile's final stage, parsed here: the same entry point, command, user, working directory and
 * environment, every COPY destination and apt package present, production dependencies only, a static
 * bridge, and in a chroot of the unpacked layers node and both iptables backends actually run (the real
 * egress-lock, in a throwaway network namespace). And it checks
 * the archive itself: docker-save structure, every digest, reproducible layer entries.
 *
 * Cold (no cached layers) about 50 s on the 2-core machine; warm about 30 s, half of it compiling dist/.
 */
const exec = promisify(execFile);
const repo = join(import.meta.dirname, '../..');
const isRoot = process.getuid?.() === 0;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('the Docker-free image (make image)', () => {
  let dir: string;
  let stage: DockerfileStage;
  let productPath: string;
  let examplesPath: string;
  let product: ImageArchive;
  let examples: ImageArchive;
  let rootfs: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pc-image-'));
    stage = finalStage(readFileSync(join(repo, 'Dockerfile'), 'utf8'));
    // What `make build` does, into a scratch dist/ (the checkout's dist/ may be stale or absent).
    const dist = join(dir, 'dist');
    await exec(process.execPath, [
      join(repo, 'node_modules/typescript/bin/tsc'),
      '-p',
      join(repo, 'tsconfig.build.json'),
      '--outDir',
      dist,
    ]);
    await exec(process.execPath, [join(repo, 'scripts/write-build-info.ts'), dist]);
    await exec(process.execPath, [join(repo, 'scripts/bundle/main.ts'), dist]);
    const { stdout } = await exec(
      process.execPath,
      [join(repo, 'scripts/image/build-image.ts'), '--dist', dist],
      {
        cwd: repo,
        maxBuffer: 1024 * 1024,
      },
    );
    const paths = stdout.trim().split('\n');
    expect(paths.map((p) => basename(p))).toEqual(['portcullis.tar', 'portcullis-examples.tar']);
    [productPath, examplesPath] = paths as [string, string];
    product = await openImageArchive(productPath);
    examples = await openImageArchive(examplesPath);
    rootfs = join(dir, 'rootfs');
    await unpackLayers(productPath, product.manifest.Layers, rootfs);
  }, 600_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is a docker-save archive whose config and layers match their digests', async () => {
    for (const [path, image] of [
      [productPath, product],
      [examplesPath, examples],
    ] as const) {
      const layerDirs = image.manifest.Layers.map((l) => `${l.split('/')[0]}/`);
      expect(image.entries.sort()).toEqual(
        ['manifest.json', image.configName, ...layerDirs, ...image.manifest.Layers].sort(),
      );
      expect(image.configName).toBe(`${sha256(image.configBytes)}.json`);
      expect(image.config.rootfs.type).toBe('layers');
      expect(image.config.rootfs.diff_ids).toHaveLength(image.manifest.Layers.length);
      expect(image.config.history).toHaveLength(image.manifest.Layers.length);
      expect([image.config.os, image.config.architecture]).toEqual(['linux', 'amd64']);
      for (const [i, layer] of image.manifest.Layers.entries()) {
        const digest = await memberSha256(path, layer);
        expect(`sha256:${digest}`).toBe(image.config.rootfs.diff_ids[i]);
        expect(layer).toBe(`${digest}/layer.tar`);
      }
    }
  });

  it('names the commit it was built from (dist/build-info.json, as make build writes it)', async () => {
    const head = (await exec('git', ['-C', repo, 'rev-parse', 'HEAD'])).stdout.trim();
    const recorded = JSON.parse(readFileSync(join(rootfs, 'app/dist/build-info.json'), 'utf8')) as {
      commit: string;
    };
    expect(recorded.commit).toBe(head);
  });

  it('is tagged as the chart and the operator pull it', () => {
    const sidecarImage = operatorSettingsSchema.parse({}).sidecarImage;
    expect(product.manifest.RepoTags).toEqual([sidecarImage]);
    expect(examples.manifest.RepoTags).toEqual([sidecarImage.replace(/:([^:/]+)$/, '-examples:$1')]);
  });

  it("has the final stage's entry point, command, user, working directory and environment", () => {
    const { config } = product.config;
    expect(config.Entrypoint).toEqual(stage.entrypoint);
    expect(config.Cmd).toEqual(stage.cmd);
    expect(config.User).toBe(stage.user);
    expect(config.WorkingDir).toBe(stage.workdir);
    const env = Object.fromEntries(
      config.Env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
    );
    for (const [key, value] of Object.entries(stage.env)) expect(env[key], key).toBe(value);
    // FROM node:${NODE_VERSION}-bookworm-slim: that major version of Node, on bookworm, on the base's PATH.
    expect(stage.from).toBe(`node:${stage.args['NODE_VERSION']}-bookworm-slim`);
    expect(env['NODE_VERSION']?.split('.')[0]).toBe(stage.args['NODE_VERSION']);
    expect(env['PATH']).toBe('/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    expect(readFileSync(join(rootfs, 'var/lib/dpkg/status.d/libc6'), 'utf8')).toMatch(/^Version: 2\.36-/m);
  });

  it('puts every COPY of the final stage where the Dockerfile does', () => {
    const targets = stage.copies.flatMap((c) => c.sources.map((s) => copyTarget(stage, s, c.dest)));
    expect(targets).toEqual([
      '/app/package.json',
      '/app/node_modules',
      '/app/dist',
      '/usr/local/bin/portcullis-stdio-bridge',
    ]);
    for (const target of targets) expect(existsSync(join(rootfs, target)), target).toBe(true);
    expect(readFileSync(join(rootfs, 'app/package.json'), 'utf8')).toBe(
      readFileSync(join(repo, 'package.json'), 'utf8'),
    );
    expect(existsSync(join(rootfs, stage.entrypoint![1]!))).toBe(true);
    expect(statSync(join(rootfs, 'usr/local/bin/node')).mode & 0o777).toBe(0o755);
    // The lock file stays in the deps stage.
    expect(existsSync(join(rootfs, 'app/package-lock.json'))).toBe(false);
  });

  it('has the apt packages of the final stage, with the alternatives Debian would choose', () => {
    expect(stage.aptPackages).toEqual(['iptables']);
    for (const name of stage.aptPackages) {
      expect(readFileSync(join(rootfs, 'var/lib/dpkg/status.d', name), 'utf8')).toMatch(
        new RegExp(`^Package: ${name}$`, 'm'),
      );
    }
    for (const family of ['iptables', 'ip6tables']) {
      for (const tool of ['', '-restore', '-save']) {
        const link = join(rootfs, 'usr/sbin', `${family}${tool}`);
        expect(readlinkSync(link)).toBe(`/etc/alternatives/${family}${tool}`);
        expect(readlinkSync(join(rootfs, 'etc/alternatives', `${family}${tool}`))).toBe(
          `/usr/sbin/${family}-nft${tool}`,
        );
      }
    }
    // Merged /usr, as bookworm; and no shell: nothing in the image needs one.
    expect(readlinkSync(join(rootfs, 'lib'))).toBe('usr/lib');
    expect(existsSync(join(rootfs, 'bin/sh'))).toBe(false);
    expect(statSync(join(rootfs, 'tmp')).mode & 0o7777).toBe(0o1777);
    expect(readFileSync(join(rootfs, 'etc/passwd'), 'utf8')).toMatch(/^nonroot:x:65532:65532:/m);
  });

  it('ships production dependencies only (npm ci --omit=dev)', () => {
    const lock = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }>;
    };
    const entries = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'));
    const devOnly = entries.filter(([, p]) => p.dev === true);
    const production = entries.filter(([, p]) => !p.dev && !p.devOptional && !p.optional);
    expect(devOnly.length).toBeGreaterThan(50);
    for (const [path] of devOnly) expect(existsSync(join(rootfs, 'app', path)), path).toBe(false);
    for (const [path] of production) expect(existsSync(join(rootfs, 'app', path)), path).toBe(true);
    // Every devDependency of package.json is absent unless a production dependency needs it too.
    const manifest = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    for (const name of Object.keys(manifest.devDependencies)) {
      const needed = lock.packages[`node_modules/${name}`]?.dev !== true;
      expect(existsSync(join(rootfs, 'app/node_modules', name)), name).toBe(needed);
    }
  });

  it('ships a static stdio bridge', async () => {
    expect(await hasInterpreter(join(rootfs, 'usr/local/bin/portcullis-stdio-bridge'))).toBe(false);
    expect(await hasInterpreter(join(rootfs, 'usr/local/bin/node'))).toBe(true);
  });

  it('writes reproducible layers: name order, mtime 0, owner 0:0', async () => {
    for (const layer of product.manifest.Layers) {
      const lines = await listLayer(productPath, layer);
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(line, layer).toMatch(/^\S+ 0\/0 +\d+ 1970-01-01 00:00:00 /);
    }
  });

  it('shares its first layers with the examples image, whose entry point is node', () => {
    expect(product.manifest.Layers.slice(0, examples.manifest.Layers.length)).toEqual(
      examples.manifest.Layers,
    );
    const { config } = examples.config;
    expect(config.Entrypoint).toEqual(['node']);
    expect(config.Cmd).toBeUndefined();
    expect(config.User).toBe(stage.user);
    expect(config.WorkingDir).toBe('/app');
    expect(config.Env).toEqual(product.config.config.Env);
  });

  describe.skipIf(!isRoot)('in a chroot of the unpacked layers', () => {
    const chroot = (user: string, ...command: string[]) =>
      exec('chroot', [`--userspec=${user}`, rootfs, ...command], {
        timeout: 30_000,
        env: { PATH: product.config.config.Env.find((e) => e.startsWith('PATH='))!.slice(5) },
      });

    it('runs the entry point as the image user', async () => {
      const [user] = product.config.config.User.split(':');
      const { stdout } = await chroot(`${user}:${user}`, ...product.config.config.Entrypoint, '--help');
      expect(stdout).toMatch(/^Usage:/m);
      const version = await chroot(
        `${user}:${user}`,
        ...product.config.config.Entrypoint,
        'version',
        '-o',
        'json',
      );
      expect(JSON.parse(version.stdout)).toMatchObject({ commitSource: 'build-info' });
      const egress = await chroot(
        `${user}:${user}`,
        ...product.config.config.Entrypoint,
        'egress-lock',
        '--help',
      );
      expect(egress.stdout).toContain('iptables-restore');
    });

    it('runs iptables-restore and ip6tables-restore, nft by default and legacy', async () => {
      const version = async (tool: string) =>
        (await chroot('0:0', `/usr/sbin/${tool}`, '--version')).stdout.trim();
      expect(await version('iptables-restore')).toMatch(/^iptables-restore v1\.8\.\d+ \(nf_tables\)$/);
      expect(await version('ip6tables-restore')).toMatch(/^ip6tables-restore v1\.8\.\d+ \(nf_tables\)$/);
      expect(await version('iptables-legacy-restore')).toMatch(/^iptables-restore v1\.8\.\d+ \(legacy\)$/);
      expect(await version('ip6tables-legacy-restore')).toMatch(/^ip6tables-restore v1\.8\.\d+ \(legacy\)$/);
      expect(await version('iptables-nft-restore')).toMatch(/\(nf_tables\)$/);
    });

    it('locks egress with the real egress-lock, every backend, in a throwaway network namespace', async () => {
      // What a pod gives the init container: /proc, and /run as an emptyDir (the legacy backend's lock).
      mkdirSync(join(rootfs, 'proc'), { recursive: true });
      mkdirSync(join(rootfs, 'run'), { recursive: true });
      for (const backend of ['auto', 'nft', 'legacy']) {
        const { stdout, stderr } = await exec(
          'unshare',
          [
            '--net',
            '--fork',
            '--pid',
            `--mount-proc=${join(rootfs, 'proc')}`,
            'chroot',
            rootfs,
            ...product.config.config.Entrypoint,
            'egress-lock',
            '--sidecar-uid',
            '65532',
            '--backend',
            backend,
          ],
          { timeout: 30_000, env: { PATH: '/usr/local/bin:/usr/sbin:/usr/bin' } },
        );
        expect(stdout + stderr, backend).toMatch(/ipv4 locked: only UID 65532 sends beyond loopback/);
        expect(stdout + stderr, backend).toMatch(/ipv6 locked/);
      }
    });

    it('lets the bridge install itself without cp (the operator init container)', async () => {
      await chroot('65532:65532', '/usr/local/bin/portcullis-stdio-bridge', 'install', '/tmp/bridge');
      const installed = lstatSync(join(rootfs, 'tmp/bridge'));
      expect(installed.mode & 0o777).toBe(0o755);
      expect(installed.uid).toBe(65532);
    });
  });
});
