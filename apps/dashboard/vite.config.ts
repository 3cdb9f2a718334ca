// The dashboard is built (from this folder) into dist/, which the manager serves at /.
import { defineConfig } from 'vite';

export default defineConfig({
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 300 },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  // `npx vite` here serves the dashboard with hot reload against a manager on its default port.
  server: { proxy: { '/api': 'http://127.0.0.1:7470', '/metrics': 'http://127.0.0.1:7470' } },
});
