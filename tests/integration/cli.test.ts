import { existsSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { copyMedia, imageFolder, scratch } from '../helpers/paths.js';

interface Summary {
  dir: string;
  name: string;
  sources: {
    a: { kind: string; media: { frameCount: number; fps: number; hasAudio: boolean } };
    b: { kind: string; media: { frameCount: number } };
  };
  counts: { a: { framesIndexed: number }; b: { framesIndexed: number } };
}

describe('faceparts CLI on real media', () => {
  let root: string;
  let env: NodeJS.ProcessEnv;
  let video: string;
  let stills: string;

  beforeAll(() => {
    root = scratch('cli');
    env = { FACEPARTS_HOME: path.join(root, 'home') };
    [video] = copyMedia(path.join(root, 'media'), ['whitehouse_performance_360p.mp4']) as [string];
    stills = imageFolder(path.join(root, 'media', 'biden stills ü'), ['b_biden_1.jpg', 'b_biden_2.jpg']);
  });

  it('new + info --json round-trip a project (paths with spaces and unicode)', async () => {
    const dir = path.join(root, 'my project é');
    const created = await runCli(['new', dir, '--a', video, '--b', stills, '--name', 'Obama to Biden', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    const project = created.json.project as Summary;
    expect(project).toMatchObject({ dir, name: 'Obama to Biden' });
    expect(project.sources.a.kind).toBe('video');
    expect(project.sources.a.media).toMatchObject({ frameCount: 275, hasAudio: true });
    expect(project.sources.b).toMatchObject({ kind: 'images', media: { frameCount: 2 } });

    const info = await runCli(['info', dir, '--json'], env);
    expect(info.code).toBe(0);
    expect(info.json.project).toEqual(project);
    expect(existsSync(path.join(dir, 'project.json'))).toBe(true);
  });

  it('prints a readable summary without --json', async () => {
    const dir = path.join(root, 'readable');
    await runCli(['new', dir, '--a', video, '--b', stills, '--json'], env);
    const info = await runCli(['info', dir], env);
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/640x360, 275 frames @ 29\.97 fps/);
  });

  it('bad input gives a clear error naming the file and the fix, with a non-zero exit', async () => {
    const bad = path.join(root, 'bad');
    const text = path.join(root, 'notes.txt');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(text, 'hello');
    const cases: Array<[string[], RegExp]> = [
      [['new', bad, '--a', text, '--b', stills, '--json'], /notes\.txt is not a readable video/],
      [['new', bad, '--a', path.join(root, 'missing.mp4'), '--b', stills, '--json'], /missing\.mp4 does not exist/],
      [['info', path.join(root, 'nothing-here'), '--json'], /is not a FaceParts project/],
      [
        ['train', path.join(root, 'nothing-here'), '--iterations', 'ten', '--json'],
        /--iterations must be a whole number, 1 to/,
      ],
    ];
    for (const [args, pattern] of cases) {
      const result = await runCli(args, env);
      expect(result.code, args.join(' ')).not.toBe(0);
      const error = result.json.error as { message: string; fix?: string };
      expect(error.message, args.join(' ')).toMatch(pattern);
    }
    expect(existsSync(bad)).toBe(false);
  });

  it('rejects converter values outside the allowed ones before any work', async () => {
    const dir = path.join(root, 'convert');
    await runCli(['new', dir, '--a', video, '--b', stills, '--json'], env);
    const convert = await runCli(
      [
        'convert',
        dir,
        '--input',
        video,
        '--output',
        path.join(root, 'out.mp4'),
        '--color_correction',
        'SEPIA',
        '--json',
      ],
      env,
    );
    expect(convert.code).toBe(2);
    expect(convert.json.error).toMatchObject({ code: 'INVALID_PARAMS', field: 'params.job.config.color_correction' });
  });

  it('says a project has no trained model before following any face', async () => {
    const dir = path.join(root, 'untrained');
    expect((await runCli(['new', dir, '--a', video, '--b', stills, '--json'], env)).code).toBe(0);
    const output = path.join(root, 'untrained.mp4');
    const convert = await runCli(['convert', dir, '--input', video, '--output', output, '--json'], env);
    expect(convert.code).not.toBe(0);
    expect(convert.json.error).toMatchObject({ code: 'NOT_FOUND', fix: expect.stringMatching(/faceparts train/) });
    expect((convert.json.error as { message: string }).message).toMatch(/no trained model/);
    // Nothing was tracked: the job ended before its first stage.
    expect(convert.stderr).not.toMatch(/track faces/);
    expect(existsSync(output)).toBe(false);
  });
});
