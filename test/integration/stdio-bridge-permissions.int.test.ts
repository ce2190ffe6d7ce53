import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../harness/eventually.ts';
import { stdioBridgeBinary } from '../harness/stdio-bridge.ts';

/**
 * The pod as the operator builds it with the egress lock on: the server container (and the bridge) run as
 * UID 65534, the sidecar as 65532, and the pod's fsGroup 65532 owns the shared emptyDir with the setgid bit
 * (what the kubelet does for fsGroup). The sidecar must reach the bridge's socket through that group, and a
 * process outside the group must not.
 */
const SERVER_UID = 65534;
const SIDECAR_UID = 65532;
const FS_GROUP = SIDECAR_UID;
const STRANGER_UID = 40000;
const isRoot = process.getuid?.() === 0;

/** Becomes the given uid with the given supplementary groups, connects, sends a line, prints the reply or the errno. */
const CLIENT = `
const [uid, groups, socketPath] = process.argv.slice(1);
process.setgroups(groups ? groups.split(',').map(Number) : []);
process.setgid(Number(uid));
process.setuid(Number(uid));
const socket = require('node:net').connect(socketPath);
socket.setTimeout(3000, () => { console.log('timeout'); process.exit(0); });
socket.on('connect', () => socket.write('ping\\n'));
socket.on('data', (d) => { console.log('echo:' + d.toString().trim()); process.exit(0); });
socket.on('error', (e) => { console.log(e.code); process.exit(0); });
`;

async function connectAs(uid: number, groups: number[], socketPath: string): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['-e', CLIENT, String(uid), groups.join(','), socketPath],
    { timeout: 10_000 },
  );
  return stdout.trim();
}

describe.skipIf(!isRoot)('stdio bridge socket across UIDs (pod fsGroup)', () => {
  let dir: string;
  let bridge: ChildProcess;
  let socketPath: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pc-bridge-perm-'));
    chmodSync(dir, 0o755);
    // The bridge binary lives in root's cache; the server UID cannot traverse there, so it installs itself
    // beside, as the pod's init container has it do (`install DEST`, mode 0755).
    const binary = join(dir, 'portcullis-stdio-bridge');
    await promisify(execFile)(await stdioBridgeBinary(), ['install', binary]);
    const shared = join(dir, 'bridge');
    rmSync(shared, { recursive: true, force: true });
    await promisify(execFile)('mkdir', ['-m', '2770', shared]);
    chownSync(shared, 0, FS_GROUP);
    socketPath = join(shared, 'stdio.sock');
    bridge = spawn(
      'setpriv',
      [
        `--reuid=${SERVER_UID}`,
        `--regid=${SERVER_UID}`,
        `--groups=${FS_GROUP}`,
        binary,
        '--socket',
        socketPath,
        '--',
        '/bin/cat',
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    const ready = await eventually(
      async () => statSync(socketPath).isSocket(),
      (isSocket) => isSocket === true,
    );
    expect(ready).toBe(true);
  });

  afterAll(() => {
    bridge?.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('creates the socket group read-write for the pod group, no access for others', () => {
    const stat = statSync(socketPath);
    expect(stat.mode & 0o777).toBe(0o660);
    expect(stat.uid).toBe(SERVER_UID);
    expect(stat.gid).toBe(FS_GROUP);
  });

  it('lets the sidecar UID, which holds the pod group, talk to the server through it', async () => {
    expect(await connectAs(SIDECAR_UID, [FS_GROUP], socketPath)).toBe('echo:ping');
  });

  it('refuses a UID outside the pod group', async () => {
    expect(await connectAs(STRANGER_UID, [], socketPath)).toBe('EACCES');
  });
});
