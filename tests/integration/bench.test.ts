import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { scratch } from '../helpers/paths.js';

describe('faceparts bench --quick', () => {
  it('prints one JSON document with every figure beside its reference', async () => {
    const home = scratch('bench');
    // A demo's output folder with the FACE conversion's metrics: the report carries them as its quality figures.
    const demo = path.join(home, 'demo');
    mkdirSync(path.join(demo, 'project', 'exports'), { recursive: true });
    writeFileSync(
      path.join(demo, 'project', 'exports', 'demo-face.mp4.metrics.json'),
      JSON.stringify({
        jitterRawPx: 4,
        jitterSmoothedPx: 1,
        outsideMask: { pixels: 10, changed: 0 },
        identity: { samples: 3, meanDistanceToTarget: 0.55, shareRecognisedAsTarget: 0.67 },
      }),
    );
    const result = await runCli(['bench', '--quick', '--json', '--demo', demo], { FACEPARTS_HOME: home });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const r = result.json as {
      quick: boolean;
      machine: { cpus: number };
      extraction: { clip360: Record<string, unknown> };
      training: { lite: Record<string, unknown>; standard: Record<string, unknown> };
      conversion: Record<string, unknown>;
      demoQuality: Record<string, unknown>;
    };
    expect(r.quick).toBe(true);
    expect(r.machine.cpus).toBeGreaterThan(0);
    expect(r.extraction.clip360).toMatchObject({
      fps: expect.any(Number),
      decodeOnlyFps: expect.any(Number),
      ratioToDecode: expect.any(Number),
      ratioToRealtime: expect.any(Number),
      peakRssMB: expect.any(Number),
    });
    expect(r.extraction.clip360.facesKept as number).toBeGreaterThan(5);
    for (const capacity of ['lite', 'standard'] as const) {
      const t = r.training[capacity] as Record<string, number | string | Record<string, unknown>>;
      expect(t).toMatchObject({
        backend: 'wasm',
        peer: expect.any(Object),
        oneThread: expect.any(Object),
      });
      // The production path on every core (two here), timed, with the loader keeping up.
      expect(t.threads).toBe(Math.min(2, r.machine.cpus));
      expect(t.msPerIteration as number).toBeGreaterThan(0);
      expect(t.samplesPerSecond as number).toBeCloseTo(
        (2 * (t.batch as number) * 1000) / (t.msPerIteration as number),
        0,
      );
      expect(t.hoursTo18k as number).toBeCloseTo(((t.msPerIteration as number) * 18_000) / 3_600_000, 0);
      expect(t.peakRssMB as number).toBeGreaterThan(50);
      // The quick model is tiny; its parameters are still the networks' (encoder + decoder + discriminator).
      expect(t.params as number).toBeGreaterThan(1000);
      const single = t.oneThread as { msPerIteration: number; peakRssMB: number; peakMemoryRatio: number };
      expect(single.msPerIteration).toBeGreaterThan(0);
      expect(single.peakMemoryRatio).toBeCloseTo((t.peakRssMB as number) / single.peakRssMB, 2);
    }
    expect(r.conversion).toMatchObject({
      fps: expect.any(Number),
      decodeEncodeFps: expect.any(Number),
      ratioToDecodeEncode: expect.any(Number),
      ratioToRealtime: expect.any(Number),
      framesSwapped: expect.any(Number),
    });
    // Each conversion run beside its own reference (quick mode: one); the figure is the median run's.
    const runs = r.conversion.runs as Array<Record<string, number>>;
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ fps: r.conversion.fps, decodeEncodeFps: r.conversion.decodeEncodeFps });
    expect(r.conversion.jitterSmoothedPx as number).toBeLessThanOrEqual(r.conversion.jitterRawPx as number);
    const outside = r.conversion.outsideMask as { changed: number; pixels: number };
    expect(outside.changed / outside.pixels).toBeLessThan(1e-5);
    // The demo's metrics are found where the demo writes them, and the jitter ratio is worked out from them.
    expect(r.demoQuality).toMatchObject({
      available: true,
      FACE: { file: path.join(demo, 'project', 'exports', 'demo-face.mp4.metrics.json'), jitterRatioToRaw: 0.25 },
    });
  });
});
