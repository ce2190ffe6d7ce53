import { chmodSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { MissingBinaryError } from '../harness/binaries.ts';
import { ControlPlaneStartError, startControlPlane } from '../harness/controlplane.ts';
import { readState } from '../harness/leftovers.ts';
import { isRunning } from '../harness/processes.ts';

// A start-up that fails must say why, with the evidence, and leave no process running.

/** A bin dir with the real etcd and kube-controller-manager, and `apiserverScript` as kube-apiserver. */
function binDirWithFakeApiserver(apiserverScript: string): string {
  const dir = mkdtempSync(join(inject('scratchDir'), 'bin-'));
  for (const name of ['etcd', 'kube-controller-manager']) {
    symlinkSync(join(inject('k8sBinDir'), name), join(dir, name));
  }
  writeFileSync(join(dir, 'kube-apiserver'), `#!/bin/sh\n${apiserverScript}\n`);
  chmodSync(join(dir, 'kube-apiserver'), 0o755);
  return dir;
}

async function startFailure(binDir: string, readyTimeoutMs = 60_000): Promise<ControlPlaneStartError> {
  const dataDir = mkdtempSync(join(inject('scratchDir'), 'data-'));
  const error = await startControlPlane({ binDir, dataDir, readyTimeoutMs }).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof ControlPlaneStartError))
    throw new Error(`expected a start error, got ${String(error)}`);
  expect(error.dataDir).toBe(dataDir);
  const recorded = readState(dataDir)?.processes ?? [];
  expect(recorded.map((p) => p.name)).toEqual(['etcd', 'kube-apiserver']);
  expect(recorded.flatMap((p) => [p.pid, p.watchdogPid]).filter(isRunning)).toEqual([]);
  return error;
}

describe('control plane start-up failures', () => {
  it('names a missing binary and how to build it', async () => {
    const empty = mkdtempSync(join(inject('scratchDir'), 'empty-bin-'));
    await expect(startControlPlane({ binDir: empty })).rejects.toThrow(MissingBinaryError);
    await expect(startControlPlane({ binDir: empty })).rejects.toThrow(
      /etcd not found; run `make controlplane`/,
    );
  });

  it('reports a server that exits during start-up, quoting its log', async () => {
    const binDir = binDirWithFakeApiserver('echo "Error: unknown flag: --nope" >&2; exit 1');
    const error = await startFailure(binDir);
    expect(error.message).toContain('kube-apiserver exited unexpectedly with code 1');
    expect(error.message).toContain('Error: unknown flag: --nope');
  });

  it('reports a server that never becomes ready, quoting every log', async () => {
    const binDir = binDirWithFakeApiserver('echo "listening nowhere"; exec sleep 600');
    const error = await startFailure(binDir, 1_500);
    expect(error.message).toMatch(/kube-apiserver was not ready after 1500 ms \(last probe: .*ECONNREFUSED/);
    expect(error.message).toContain('--- last lines of etcd log');
    expect(error.message).toContain('listening nowhere');
  });
});
