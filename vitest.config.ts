import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: integration tests spawn engines and ffmpeg, so keep files from oversubscribing the machine.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
