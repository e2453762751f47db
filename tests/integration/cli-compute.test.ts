import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { scratch } from '../helpers/paths.js';
import { synthClip } from '../helpers/synth.js';

/**
 * What the commands print about compute on a machine without a GPU (the test machines): Dawn, the webgpu package's
 * native code, used to write "Warning: Couldn't load Vulkan: libvulkan.so.1 ..." with a source location inside its
 * build on every command that looked for a GPU. Now none prints it; a command that runs models prints one plain
 * line saying which compute it chose and why. Needs the compiled CLI (`npm run build`).
 */

/** Dawn's own words: its warning, or a source location inside its build. */
const DAWN = /Couldn't load Vulkan|BackendVk|node-webgpu|third_party\/dawn/i;

/** The lines that mention Vulkan or Dawn at all, other than the compute line (which may name the missing driver). */
function dawnLines(result: CliResult): string[] {
  return `${result.stdout}\n${result.stderr}`
    .split('\n')
    .filter((line) => !line.startsWith('compute:') && (DAWN.test(line) || /vulkan|dawn/i.test(line)));
}

function computeLines(result: CliResult): string[] {
  return `${result.stdout}\n${result.stderr}`.split('\n').filter((line) => line.startsWith('compute:'));
}

describe('compute as the CLI reports it', () => {
  let root: string;
  let env: NodeJS.ProcessEnv;
  let dir: string;

  beforeAll(async () => {
    root = scratch('cli-compute');
    env = { FACEPARTS_HOME: path.join(root, 'home') };
    const a = await synthClip(path.join(root, 'clips', 'a'), ['a_obama_1.jpg', 'a_obama_2.jpg'], 2);
    const b = await synthClip(path.join(root, 'clips', 'b'), ['b_biden_2.jpg', 'b_biden_1.jpg'], 2);
    dir = path.join(root, 'project');
    const created = await runCli(['new', dir, '--a', a, '--b', b], env);
    expect(created.code, created.stderr).toBe(0);
    expect(dawnLines(created)).toEqual([]);
  }, 60_000);

  /** A tiny model: the checks are about what is printed. */
  const TINY = [
    '--batch-size',
    '2',
    '--model-width',
    '8',
    '--discriminator-width',
    '8',
    '--no-self-attention',
    '--no-perceptual',
  ];

  it('extract and train print one compute line, and nothing of Dawn', async () => {
    const runs: Array<[string, string[]]> = [
      ['extract', ['extract', dir]],
      ['train', ['train', dir, '--iterations', '1', ...TINY]],
    ];
    for (const [name, args] of runs) {
      const result = await runCli(args, env);
      expect(result.code, `${name}: ${result.stdout}${result.stderr}`).toBe(0);
      expect(dawnLines(result), name).toEqual([]);
      const lines = computeLines(result);
      expect(lines, `${name}: ${result.stderr}`).toHaveLength(1);
      if (name === 'extract') {
        // Extraction's nets run on onnxruntime's CPU kernels in the model threads, whatever training would choose.
        expect(lines[0]).toMatch(/^compute: CPU \(onnxruntime\), 2 model threads for face detection/);
        continue;
      }
      // Which compute, and why the faster ones are not used, in plain words.
      expect(lines[0]).toMatch(/^compute: (GPU|CPU) \(.+\)/);
      if (/^compute: CPU/.test(lines[0] ?? ''))
        expect(lines[0]).toMatch(/not usable: GPU \(CUDA\) not installed.*GPU \(WebGPU\) not (found|installed)/);
    }
  }, 240_000);

  it('--json keeps stdout to the one JSON line, and the other commands print nothing of Dawn either', async () => {
    const trained = await runCli(['train', dir, '--iterations', '2', ...TINY, '--json'], env);
    expect(trained.stdout.trim().split('\n')).toHaveLength(1);
    expect(trained.json).toMatchObject({ state: 'completed' });
    for (const args of [['info', dir], ['--help'], ['convert', '--help']]) {
      const result = await runCli(args, env);
      expect(dawnLines(result), args.join(' ')).toEqual([]);
    }
  }, 120_000);

  it('help says A and B as the studio does: A the person in the video you convert, B whose face A receives', async () => {
    const help = (await runCli(['new', '--help'], env)).stdout.replace(/\s+/g, ' ');
    expect(help).toContain('person A: the person in the video you convert (the source)');
    expect(help).toContain('person B: the person whose face A receives (the target)');
    const convert = (await runCli(['convert', '--help'], env)).stdout.replace(/\s+/g, ' ');
    expect(convert).toContain('a video of A, where A wears B’s face');
    expect(convert).toContain('A -> B: A wears B’s face');
  }, 120_000);
});
