import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

const outDir = resolve(import.meta.dirname, '../internal/console/dist');

// emptyOutDir removes the committed dist/.gitkeep that keeps go:embed
// compiling in a clone that has not built the console; put it back.
function keepGitkeep(): Plugin {
  return {
    name: 'outcrop-keep-gitkeep',
    closeBundle() {
      mkdirSync(outDir, { recursive: true });
      writeFileSync(resolve(outDir, '.gitkeep'), '');
    },
  };
}

export default defineConfig({
  base: '/console/',
  plugins: [react(), keepGitkeep()],
  build: {
    outDir,
    emptyOutDir: true,
    // No inline scripts or styles: the server's CSP allows 'self' only.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
  },
  server: {
    // `npm run dev` proxies API calls to a local `outcrop serve`.
    proxy: Object.fromEntries(
      ['/console/api', '/admin', '/model', '/v1', '/guardrail', '/guardrails', '/foundation-models', '/flows', '/agents', '/prompts', '/knowledgebases', '/retrieveAndGenerate', '/evaluation-jobs'].map(
        (p) => [p, { target: process.env.OUTCROP_URL ?? 'http://127.0.0.1:8080' }],
      ),
    ),
  },
  test: {
    include: ['src/**/*.test.{ts,tsx}'],
    environment: 'node',
    // The property and fuzz tests run thousands of bounded cases; on a loaded
    // two-core machine one took 5.3 s, past vitest's 5 s default.
    testTimeout: 60_000,
  },
});
