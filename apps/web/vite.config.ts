import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// `pnpm dev`: this dev server (hot reload, :5173) in front of the API server (`PORT`, 3000).
// biome-ignore lint/style/noProcessEnv: a build tool's config, not the app (packages/config is)
const api = `http://127.0.0.1:${process.env.PORT || 3000}`;

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // No inline scripts or data: module preload polyfill: the page runs under script-src 'self'.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    port: 5173,
    proxy: Object.fromEntries(['/trpc', '/api', '/auth', '/v1'].map((p) => [p, { target: api }])),
  },
});
