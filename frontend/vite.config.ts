import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The aiohttp backend serves dist/ at `/`, so the default base '/' is kept.
export default defineConfig({
  plugins: [react()],
  build: {
    // One bundle of ~525 kB (ai + react + react-markdown); splitting buys nothing
    // for a single-page tool served from the same host.
    chunkSizeWarningLimit: 800,
  },
  server: {
    // `npm run dev` talks to a locally running backend (python -m backend).
    proxy: { '/api': 'http://127.0.0.1:8080' },
  },
});
