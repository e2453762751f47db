import { describe, expect, it } from 'vitest';
import { engineEnvironment, withEngineTunables } from '../../src-main/host-node/engine-env.js';

describe("the engine process's environment", () => {
  it('asks glibc for huge pages and one malloc arena, keeping the parent environment and what the caller adds', () => {
    const env = engineEnvironment({ PATH: '/usr/bin', HOME: '/home/a' }, { FACEPARTS_RUNTIME: 'node-child' });
    expect(env.GLIBC_TUNABLES).toBe('glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1');
    expect(env.PATH).toBe('/usr/bin');
    expect(env.FACEPARTS_RUNTIME).toBe('node-child');
  });

  it("keeps a user's own tunables, and their choice where they set the same one", () => {
    expect(withEngineTunables('glibc.malloc.arena_max=2')).toBe('glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1');
    expect(withEngineTunables('glibc.malloc.hugetlb=0:glibc.malloc.arena_max=2')).toBe(
      'glibc.malloc.hugetlb=0:glibc.malloc.arena_max=2',
    );
    expect(engineEnvironment({ GLIBC_TUNABLES: 'glibc.malloc.hugetlb=2' }).GLIBC_TUNABLES).toBe(
      'glibc.malloc.hugetlb=2:glibc.malloc.arena_max=1',
    );
    expect(withEngineTunables('glibc.malloc.tcache_count=0')).toBe(
      'glibc.malloc.tcache_count=0:glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1',
    );
    expect(withEngineTunables('')).toBe('glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1');
  });
});
