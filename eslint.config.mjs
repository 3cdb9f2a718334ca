// Lint for the whole workspace. The module-boundary rule reads the Nx project
// tags set in each package.json ("nx": { "tags": [...] }): a tag without a rule
// here is decoration, so every tag used in the repository appears below.
import { builtinModules } from 'node:module';
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

// The agent runs on every node as one bundle of everything it imports, shared
// libraries included (apps/agent "bundle"), so the manager's broker and
// certificate authority and what they pull in stay out of agent and shared
// code; they live in libs/manager-transport (scope:manager).
// test/lint/agent-bundle.test.ts checks the bundle itself.
const managerOnlyPackages = ['aedes', 'aedes-*', 'mqemitter', 'tsyringe', 'reflect-metadata', '@peculiar/*'];

export default [
  { ignores: ['**/node_modules/**', '**/dist/**', '**/gen/**', '**/data/**', '**/.nx/**'] },
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  ...nx.configs['flat/javascript'],
  {
    files: ['**/*.ts', '**/*.tsx', '**/*.js', '**/*.mjs'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            // Layers: apps wire libs; libs never import apps; domain is pure.
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib', 'type:domain', 'type:proto'] },
            { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:lib', 'type:domain', 'type:proto'] },
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib', 'type:domain', 'type:proto'] },
            { sourceTag: 'type:proto', onlyDependOnLibsWithTags: ['type:proto'] },
            // Node built-ins are not Nx projects or npm packages, so the domain's
            // "no node:*" is enforced by no-restricted-imports further down.
            { sourceTag: 'type:domain', onlyDependOnLibsWithTags: ['type:domain'] },
            // Scopes: the agent and the manager never import each other's code.
            { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'], bannedExternalImports: managerOnlyPackages },
            { sourceTag: 'scope:agent', onlyDependOnLibsWithTags: ['scope:agent', 'scope:shared'], bannedExternalImports: managerOnlyPackages },
            { sourceTag: 'scope:manager', onlyDependOnLibsWithTags: ['scope:manager', 'scope:shared'] },
            { sourceTag: 'scope:cli', onlyDependOnLibsWithTags: ['scope:cli', 'scope:shared'] },
            { sourceTag: 'scope:dashboard', onlyDependOnLibsWithTags: ['scope:dashboard', 'scope:shared'] },
            { sourceTag: 'scope:test', onlyDependOnLibsWithTags: ['scope:shared', 'scope:manager', 'scope:agent'] },
          ],
        },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Domain code is decisions as functions: no I/O, no clock, no randomness.
    // Time and ids are passed in (CONVENTIONS.md, rule 2).
    files: ['libs/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: builtinModules.map((name) => ({ name, message: 'libs/domain does no I/O: no Node.js built-ins.' })),
          patterns: [{ group: ['node:*'], message: 'libs/domain does no I/O: no Node.js built-ins.' }] },
      ],
      'no-restricted-globals': ['error', 'process', 'Buffer', 'setTimeout', 'setInterval', 'fetch', 'require'],
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']", message: 'Pass the time in.' },
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'Pass the time in.' },
        { selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']", message: 'Pass ids in.' },
        { selector: "MemberExpression[object.name='crypto']", message: 'Pass ids in.' },
      ],
    },
  },
  {
    // libs/fleet keeps protobuf in its wire adapters (libs/fleet/src/wire):
    // everything else there works on domain types (CONVENTIONS.md, rule 6).
    files: ['libs/fleet/src/**/*.ts'],
    ignores: ['libs/fleet/src/wire/**', '**/*.test.ts', '**/*.test-kit.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['@metalfleet/proto', '@bufbuild/protobuf', '@bufbuild/protobuf/*', '@grpc/grpc-js'], message: 'protobuf and gRPC stay in libs/fleet/src/wire: map to domain types there.' }] },
      ],
    },
  },
  {
    files: ['**/*.test.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off', '@typescript-eslint/no-empty-function': 'off' },
  },
];
