// @ts-check
// ESLint for the course's TypeScript: typescript-eslint's recommended type-checked rules
// (https://typescript-eslint.io/users/configs#recommended-type-checked), with type information
// from the project's tsconfigs. `npm run lint` runs it, and `npm test` runs that as a step.
//
// Scope: the lib, the tests, the benches and the kernel (LINTED below), all clean since
// 2026-12-01 (FRUGAL_LINT_ALL, which once widened the scope to this, is now ignored). An
// `eslint-disable` needs a one-line reason, and only where a dependency's typing forces it.
// Lessons are typechecked by scripts/typecheck-lessons.mjs, the .mjs scripts by
// tsconfig.scripts.json (checkJs).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const LINTED = ['lib/**/*.ts', 'tests/**/*.ts', 'bench/**/*.ts', 'kernel/src/**/*.ts'];

export default tseslint.config(
  { ignores: ['**/dist/**', 'node_modules/**', 'out/**', '**/*.mjs', '**/*.cjs', '**/*.js', '*.config.ts'] },
  {
    files: LINTED,
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        project: ['./tsconfig.json', './kernel/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },
);
