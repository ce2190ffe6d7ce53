import { defineConfig } from 'vitest/config';

// Three projects: `unit` needs nothing but Node; `integration` runs against a real etcd + kube-apiserver
// that test/harness/global-setup.ts starts once per run (binaries from test/controlplane/build.sh); `e2e`
// runs on a real node (test/cluster) with the project's images, one file at a time, after the others
// (`make test` runs it as a second vitest run, so timing figures are not taken on a loaded machine).
export default defineConfig({
  test: {
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
