// One lint config for src, test, bench and scripts: typescript-eslint's strict rules with type information.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'coverage/**', 'node_modules/**'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off'
    }
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/cli/main.ts'],
    rules: {
      // Library code never ends the process: only src/cli/main.ts maps errors to exit codes.
      'no-restricted-properties': ['error', { object: 'process', property: 'exit', message: 'Throw a ForwardError; only src/cli/main.ts exits.' }, { object: 'process', property: 'argv', message: 'Library code takes its options as arguments.' }]
    }
  }
)
