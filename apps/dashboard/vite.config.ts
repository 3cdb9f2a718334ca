// The dashboard is built (from this folder) into dist/, which the manager serves at /.
import { defineConfig } from 'vite';

export default defineConfig({
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 300 },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  // `npx vite` here serves the dashboard with hot reload against a manager on its default port, which speaks
  // HTTPS with a certificate from its own CA; on loopback, for development only, it is not verified.
  server: { proxy: Object.fromEntries(['/api', '/metrics'].map((path) => [path, { target: 'https://127.0.0.1:7470', secure: false }])) },
});
