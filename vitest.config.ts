import { readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// One vitest project per workspace package, sharing one embedded Postgres (global setup).
const dirs = ['packages', 'apps'].flatMap((top) =>
  readdirSync(top, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => `${top}/${d.name}`),
);

export default defineConfig({
  test: {
    globalSetup: ['./packages/test-kit/src/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    projects: dirs.map((root) => ({
      extends: true,
      test: {
        name: root.split('/')[1],
        root,
        include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      },
    })),
  },
});
