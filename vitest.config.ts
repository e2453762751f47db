import path from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/global-setup.ts'],
    // Built graphs of the bundled nets (onnx/graph-cache.ts) go beside the other test output, not into the user's cache.
    env: { FACEPARTS_CACHE: path.resolve('test-output/cache') },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: integration tests spawn engines and ffmpeg, so keep files from oversubscribing the machine.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
