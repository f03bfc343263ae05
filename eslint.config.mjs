// ESLint for a TypeScript cdktf library: the recommended JavaScript and typescript-eslint rules (syntax-only, so a lint
// of the whole tree stays a few seconds), with formatting left to Prettier (eslint-config-prettier turns off every
// rule that would disagree with it). `npm run lint` runs both; `.ci/run` runs it.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'cdktf.out/',
      '.gen/',
      'build/',
      'dist/',
      'coverage/',
      '.local-run/',
      'lib/spec/schema-validator.generated.js',
      'bench/init-style/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      // require() is how this project defers loading cdktf and the client libraries until a path needs them.
      '@typescript-eslint/no-require-imports': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      'no-control-regex': 'off',
    },
  },
  {
    files: ['**/*.cjs', '**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        performance: 'readonly',
      },
    },
  },
  {
    // The dashboard's page: browser globals, and user strings only ever as text (Preact escapes it): no HTML sinks.
    files: ['lib/apps/dashboard/ui/**/*.{ts,tsx}'],
    languageOptions: { globals: { window: 'readonly', document: 'readonly', location: 'readonly', fetch: 'readonly' } },
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "JSXAttribute[name.name='dangerouslySetInnerHTML']",
          message: 'user strings are data: render text, never HTML (docs/dashboard.md, "Security")',
        },
        {
          selector: 'MemberExpression[property.name=/^(innerHTML|outerHTML|insertAdjacentHTML)$/]',
          message: 'user strings are data: set textContent, never HTML (docs/dashboard.md, "Security")',
        },
        {
          selector: "CallExpression[callee.object.name='document'][callee.property.name=/^write/]",
          message: 'user strings are data: no document.write',
        },
      ],
    },
  },
  {
    // Synthesized Terraform JSON is read as `any` in tests: its shape is what the snapshot and assertions check.
    files: ['__tests__/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
