import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const API = process.env.ENTRADA_API ?? 'http://127.0.0.1:3000';

// The organiser console: its own bundle, served by the server at /console/ (never from a CDN).
export default defineConfig({
  base: '/console/',
  plugins: [react()],
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true, chunkSizeWarningLimit: 1500 },
  server: { proxy: { '/api': API } },
});
