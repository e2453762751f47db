import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('./src-renderer', import.meta.url));
const outDir = fileURLToPath(new URL('./dist/renderer', import.meta.url));
const repo = fileURLToPath(new URL('.', import.meta.url));

/** For `npx vite` (dev server): where a running `faceparts serve` listens, so /ws and /media reach it. */
const engine = process.env.FACEPARTS_ENGINE_URL;

export default defineConfig({
  root,
  // Relative asset URLs: the same build is served over HTTP (serve mode) and by Electron's app:// protocol.
  base: './',
  publicDir: 'public',
  plugins: [svelte()],
  build: {
    outDir,
    emptyOutDir: true,
    sourcemap: false,
    // The page's CSP allows no inline scripts: keep every script in a file.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
  server: {
    // The renderer imports the shared contract from ../src-shared.
    fs: { allow: [repo] },
    proxy: engine
      ? {
          '/ws': { target: engine, ws: true },
          '/media': { target: engine },
        }
      : undefined,
  },
});
