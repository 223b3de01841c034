// Build for `comptoir serve`: index.html at /, hashed assets under /assets/.
// `npm run dev` proxies the API to a running server (or to dev/mock-server.mjs).
import { defineConfig } from 'vite';

const backend = process.env.COMPTOIR_BACKEND ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Modern browsers only; the polyfill would add code for nothing.
    modulePreload: { polyfill: false },
    // Everything is a file under /assets/: nothing inlined as data: URLs
    // except what CSP allows anyway (img-src data:).
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 700,
    reportCompressedSize: true,
  },
  server: {
    host: '127.0.0.1',
    proxy: {
      '/api': { target: backend, changeOrigin: false },
      '/metrics': { target: backend, changeOrigin: false },
    },
  },
});
