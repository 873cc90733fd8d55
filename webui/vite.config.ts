import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import tailwindcss from '@tailwindcss/vite';

// `npm run dev` serves the UI on :5173 and forwards /api to the C server
// (IDEOGRAM4_API_URL, default http://127.0.0.1:8000). The proxy keeps the
// browser's Host and Origin, so the server sees a same-origin request.
export default defineConfig({
  plugins: [react(), tailwindcss()],
  server: {
    host: '127.0.0.1',
    port: 5173,
    // changeOrigin false: the server checks Host and Origin against each other.
    proxy: { '/api': { target: process.env.IDEOGRAM4_API_URL ?? 'http://127.0.0.1:8000', changeOrigin: false } },
  },
  build: { outDir: 'dist', sourcemap: false, chunkSizeWarningLimit: 400 },
});
