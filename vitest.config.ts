import { defineConfig } from 'vitest/config';
import { LongestFirstSequencer } from './test/harness/longest-first-sequencer.ts';

// Three projects: `unit` needs nothing but Node; `integration` runs against a real etcd + kube-apiserver
// that test/harness/global-setup.ts starts once per run (binaries from test/controlplane/build.sh); `e2e`
// runs on a real node (test/cluster) with the project's images, one file at a time, after the others
// (`make test` runs it as a second vitest run, so timing figures are not taken on a loaded machine).
//
// Unit and integration files run two at a time. Vitest's default on two cores is one, but an integration
// file mostly waits on the processes it started (servers, sidecars, a control plane), and the audit loss
// test alone takes ~15 minutes: on one lane the run took ~27 minutes, on two ~18 (the loss test beside
// everything else). Every file makes its own namespace, ports and scratch directory, so two files never
// share state. The longest files start first (test/harness/longest-first-sequencer.ts).
export default defineConfig({
  test: {
    maxWorkers: 2,
    sequence: { sequencer: LongestFirstSequencer },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{lib,api,policy,kube,operator,sidecar,collector,cli,test}/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', '**/*.e2e.test.ts', 'node_modules/**'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.int.test.ts'],
          globalSetup: ['test/harness/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.e2e.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          setupFiles: ['test/e2e/setup-context.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
