// Lint rules, including the dependency direction of ARCHITECTURE.md section 4:
//   api <- policy <- operator, sidecar, collector <- cli; kube (Kubernetes I/O) <- operator, sidecar;
//   lib (small building blocks: caches, backoff) <- everything else; test and bench may import anything.
// Pure modules (api, policy, operator builders and status) do no I/O and read no clock.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importBoundaries } from './scripts/eslint/import-boundaries.js';

const components = [
  'lib',
  'api',
  'policy',
  'kube',
  'operator',
  'sidecar',
  'collector',
  'cli',
  'demo',
  'test',
  'bench',
];

/** What each component may import from the project; everything else is forbidden. */
export const mayImport = {
  lib: ['lib'],
  api: ['api'],
  policy: ['api', 'policy'],
  // Kubernetes I/O both the operator and the sidecar use (informers, REST): never policy decisions.
  kube: ['lib', 'api', 'kube'],
  operator: ['lib', 'api', 'policy', 'kube', 'operator'],
  sidecar: ['lib', 'api', 'policy', 'kube', 'sidecar'],
  collector: ['lib', 'api', 'policy', 'kube', 'collector'],
  cli: ['lib', 'api', 'policy', 'kube', 'operator', 'sidecar', 'collector', 'cli', 'demo'],
  // `make demo` and `portcullis dev` (cli imports it lazily, for those two commands only). Not cli:
  // the demo runs `portcullis` as child processes, exactly as a pod does, and a cycle would hide that.
  demo: ['lib', 'api', 'policy', 'sidecar', 'collector', 'demo'],
};

const pureModules = [
  'lib/**/*.ts',
  'api/**/*.ts',
  'policy/**/*.ts',
  'operator/builders/**/*.ts',
  'operator/status/**/*.ts',
];

const ioModules = [
  'fs',
  'fs/promises',
  'net',
  'http',
  'http2',
  'https',
  'child_process',
  'dgram',
  'dns',
  'tls',
  'worker_threads',
  'os',
].flatMap((m) => [m, `node:${m}`]);

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'release/',
      'crds/',
      'charts/',
      'examples/**/*.yaml',
      'test/controlplane/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { portcullis: { rules: { 'import-boundaries': importBoundaries } } },
    languageOptions: { ecmaVersion: 2024, sourceType: 'module' },
    rules: {
      'portcullis/import-boundaries': ['error', { root: import.meta.dirname, components, mayImport }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'Only main.ts files touch process; pass what you need in.' },
      ],
    },
  },
  {
    files: pureModules,
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: ioModules.map((name) => ({ name, message: 'Pure modules do no I/O.' })) },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
          message: 'Pure modules take a clock; do not call Date.now().',
        },
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'Pure modules take a clock; do not call new Date().',
        },
      ],
    },
  },
  {
    files: [
      '**/main.ts',
      '**/*.test.ts',
      'test/**',
      'bench/**',
      'scripts/**',
      'examples/servers/**',
      '*.config.{ts,js}',
    ],
    rules: { 'no-restricted-globals': 'off' },
  },
);
