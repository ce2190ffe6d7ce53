import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

/**
 * Opens a `docker save` archive (what `make image` writes) with the system's tar: its entry list, its
 * manifest.json, the image config (and its file name, which must be its sha256) and the layer tars.
 */
export interface ImageArchive {
  entries: string[];
  manifest: { Config: string; RepoTags: string[]; Layers: string[] };
  configName: string;
  configBytes: Buffer;
  config: {
    architecture: string;
    os: string;
    config: {
      User: string;
      WorkingDir: string;
      Env: string[];
      Entrypoint: string[];
      Cmd?: string[];
    };
    rootfs: { type: string; diff_ids: string[] };
    history: unknown[];
  };
}

const exec = promisify(execFile);

/** Reads the list, the manifest and the config; layers stay in the archive (read them with the helpers). */
export async function openImageArchive(archive: string): Promise<ImageArchive> {
  const { stdout } = await exec('tar', ['-tf', archive], { maxBuffer: 16 * 1024 * 1024 });
  const member = async (name: string) =>
    (await exec('tar', ['-xOf', archive, name], { encoding: 'buffer', maxBuffer: 16 * 1024 * 1024 })).stdout;
  const manifests = JSON.parse(
    (await member('manifest.json')).toString('utf8'),
  ) as ImageArchive['manifest'][];
  if (manifests.length !== 1)
    throw new Error(`${archive}: ${manifests.length} images in manifest.json, want 1`);
  const manifest = manifests[0]!;
  const configBytes = await member(manifest.Config);
  return {
    entries: stdout.split('\n').filter((line) => line !== ''),
    manifest,
    configName: manifest.Config,
    configBytes,
    config: JSON.parse(configBytes.toString('utf8')) as ImageArchive['config'],
  };
}

/** The sha256 (hex) of one member of the archive, streamed. */
export async function memberSha256(archive: string, name: string): Promise<string> {
  const tar = spawn('tar', ['-xOf', archive, name], { stdio: ['ignore', 'pipe', 'inherit'] });
  const hash = createHash('sha256');
  for await (const chunk of tar.stdout) hash.update(chunk as Buffer);
  const code = await new Promise<number | null>((resolve) => tar.on('close', resolve));
  if (code !== 0) throw new Error(`tar -xOf ${archive} ${name} exited ${code}`);
  return hash.digest('hex');
}

/** `tar -tv` of one layer: mode, numeric owner/group, size, date and time, name. */
export async function listLayer(archive: string, layer: string): Promise<string[]> {
  const { stdout } = await exec(
    'bash',
    ['-o', 'pipefail', '-c', 'tar -xOf "$0" "$1" | tar -tv --numeric-owner --full-time', archive, layer],
    { maxBuffer: 256 * 1024 * 1024 },
  );
  return stdout.split('\n').filter((line) => line !== '');
}

/** Unpacks the layers in order into root: the container's file system (our layers have no whiteouts). */
export async function unpackLayers(archive: string, layers: readonly string[], root: string): Promise<void> {
  await mkdir(root, { recursive: true });
  for (const layer of layers) {
    await exec('bash', [
      '-o',
      'pipefail',
      '-c',
      'tar -xOf "$0" "$1" | tar -x --numeric-owner -C "$2"',
      archive,
      layer,
      root,
    ]);
  }
}

/** Whether an ELF file asks for a program interpreter (PT_INTERP): a static binary does not. */
export async function hasInterpreter(path: string): Promise<boolean> {
  const elf = await readFile(path);
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) throw new Error(`${path}: not a 64-bit ELF file`);
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    if (elf.readUInt32LE(phoff + i * phentsize) === 3) return true;
  }
  return false;
}
