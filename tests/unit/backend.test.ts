import { afterEach, describe, expect, it } from 'vitest';
import { BACKEND_CHAIN, effectiveChoice, selectBackend, tf } from '../../src-main/engine/backend/select.js';
import { computeLine } from '../../src-shared/compute.js';

afterEach(() => {
  delete process.env.FACEPARTS_BACKEND;
});

describe('tfjs backend selection', () => {
  it('walks the chain and explains every backend it did not pick', async () => {
    const report = await selectBackend('auto');
    expect(report.selected).not.toBeNull();
    expect(report.attempts.map((a) => a.name)).toEqual([...BACKEND_CHAIN]);
    const picked = report.attempts.find((a) => a.ok);
    expect(picked?.name).toBe(report.selected);
    expect(tf.getBackend()).toBe(
      report.selected === 'tfjs-node-gpu' || report.selected === 'tfjs-node' ? 'tensorflow' : report.selected,
    );
    for (const attempt of report.attempts.filter((a) => !a.ok)) expect(attempt.reason.length).toBeGreaterThan(5);
    // The optional accelerated packages are not usable on the test machines; the chain must fall back past them.
    // Reasons in plain words; the library's own text is the detail.
    if (report.selected === 'wasm') {
      expect(report.attempts[0]).toMatchObject({ reason: /^not installed/, detail: /tfjs_binding|Cannot find/ });
      expect(report.attempts[1]?.reason).toMatch(/^not (found|installed)/);
      expect(report.attempts[4]?.reason).toBe('not tried: wasm works and comes first');
      expect(computeLine(report)).toMatch(
        /^compute: CPU \(wasm\), the fastest that works here; not usable: GPU \(CUDA\)/,
      );
    }
  });

  it('can be forced by FACEPARTS_BACKEND, which beats the setting', async () => {
    process.env.FACEPARTS_BACKEND = 'cpu';
    expect(effectiveChoice('wasm')).toEqual({ choice: 'cpu', forcedBy: 'env' });
    const report = await selectBackend('wasm');
    expect(report).toMatchObject({ selected: 'cpu', forcedBy: 'env' });
    expect(tf.getBackend()).toBe('cpu');
    expect(report.attempts.find((a) => a.name === 'wasm')?.reason).toBe('not tried: FACEPARTS_BACKEND asks for cpu');
    expect(computeLine(report)).toBe('compute: CPU (plain JavaScript), because FACEPARTS_BACKEND asks for cpu');
  });

  it('can be forced by the setting', async () => {
    const report = await selectBackend('wasm');
    expect(report).toMatchObject({ selected: 'wasm', forcedBy: 'setting' });
  });

  it('rejects an unknown FACEPARTS_BACKEND with the allowed names', () => {
    process.env.FACEPARTS_BACKEND = 'cuda';
    expect(() => effectiveChoice('auto')).toThrow(/webgpu, tfjs-node, wasm, cpu/);
  });

  it('reports a forced backend that cannot start instead of silently falling back', async () => {
    await expect(selectBackend('tfjs-node')).rejects.toMatchObject({
      code: 'BACKEND_UNAVAILABLE',
      message: expect.stringMatching(/tfjs-node/),
    });
  });
});
