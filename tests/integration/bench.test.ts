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
    mkdirSync(demo, { recursive: true });
    writeFileSync(
      path.join(demo, 'demo-face.mp4.metrics.json'),
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
      expect(r.training[capacity]).toMatchObject({
        msPerIteration: expect.any(Number),
        backend: expect.any(String),
        params: expect.any(Number),
        peakRssMB: expect.any(Number),
        peer: expect.any(Object),
      });
      expect(r.training[capacity].params as number).toBeGreaterThan(1000);
    }
    expect(r.conversion).toMatchObject({
      fps: expect.any(Number),
      decodeEncodeFps: expect.any(Number),
      ratioToDecodeEncode: expect.any(Number),
      ratioToRealtime: expect.any(Number),
      framesSwapped: expect.any(Number),
    });
    expect(r.conversion.jitterSmoothedPx as number).toBeLessThanOrEqual(r.conversion.jitterRawPx as number);
    const outside = r.conversion.outsideMask as { changed: number; pixels: number };
    expect(outside.changed / outside.pixels).toBeLessThan(1e-5);
    expect(r.demoQuality).toMatchObject({
      available: true,
      FACE: { identity: { shareRecognisedAsTarget: 0.67 }, jitterRatioToRaw: 0.25, outsideMask: { changed: 0 } },
    });
  });
});
