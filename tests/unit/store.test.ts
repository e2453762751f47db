import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { PROJECT_SCHEMA_VERSION } from '../../src-shared/contract/index.js';
import { DB_SCHEMA_VERSION } from '../../src-main/engine/project/migrations.js';
import { INDEX_FILE, PROJECT_FILE, ProjectStore, projectManifest } from '../../src-main/engine/project/store.js';
import { scratch } from '../helpers/paths.js';
import { projectSources } from '../helpers/project-sources.js';

function makeProject(name: string): string {
  const dir = path.join(scratch(name), 'project');
  ProjectStore.create(dir, {
    name: 'Test',
    sources: projectSources(),
    settings: { training: { iterations: 123 } },
  }).close();
  return dir;
}

describe('ProjectStore', () => {
  it('round-trips project.json and settings, with migrations applied', () => {
    const dir = makeProject('store-roundtrip');
    const store = ProjectStore.open(dir);
    expect(store.project.name).toBe('Test');
    expect(store.project.schemaVersion).toBe(PROJECT_SCHEMA_VERSION);
    expect(store.project.settings.training.iterations).toBe(123);
    expect(store.project.settings.training.batchSize).toBe(8);
    expect(store.db.pragma('user_version', { simple: true })).toBe(DB_SCHEMA_VERSION);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    store.rename('Renamed');
    store.updateSettings({ converter: { segmentation: 'EYES_ONLY' } });
    store.close();
    const again = ProjectStore.open(dir);
    expect(again.project.name).toBe('Renamed');
    expect(again.project.settings.converter.segmentation).toBe('EYES_ONLY');
    expect(again.project.settings.training.iterations).toBe(123);
    expect(again.integrityCheck()).toBe('ok');
    again.close();
  });

  it('commits frames and the resume cursor together', () => {
    const store = ProjectStore.open(makeProject('store-frames'));
    store.commitFrames(
      'a',
      'decode',
      [
        {
          side: 'a',
          index: 0,
          timeSeconds: 0,
          status: 'pending',
          reason: null,
          thumbnail: 'thumbs/a/0.jpg',
          width: 640,
          height: 360,
        },
      ],
      1,
      false,
    );
    expect(store.getCursor('a', 'decode')).toEqual({ nextIndex: 1, finished: false, state: null });
    expect(store.listFrames('a', 0, 10).frames[0]).toMatchObject({
      index: 0,
      thumbnail: 'thumbs/a/0.jpg',
      faceCount: 0,
      width: 640,
      height: 360,
    });
    expect(store.summary().counts.a.framesIndexed).toBe(1);
    store.close();
  });

  it('refuses a folder that already holds a project or other files', () => {
    const dir = makeProject('store-exists');
    expect(() => ProjectStore.create(dir, { sources: projectSources() })).toThrow(/already holds a project/);
    const other = scratch('store-nonempty');
    writeFileSync(path.join(other, 'holiday.mov'), 'x');
    expect(() => ProjectStore.create(other, { sources: projectSources() })).toThrow(/not empty/);
  });

  it('refuses a folder holding only dot-files (a home folder), without listing them', () => {
    const home = scratch('store-dotfiles');
    mkdirSync(path.join(home, '.ssh'));
    writeFileSync(path.join(home, '.ssh', 'id_ed25519'), 'key');
    writeFileSync(path.join(home, '.bashrc'), 'rc');
    const attempt = (): unknown => ProjectStore.create(home, { sources: projectSources() });
    expect(attempt).toThrow(
      expect.objectContaining({ code: 'ALREADY_EXISTS', file: home, fix: expect.stringMatching(/empty/) }),
    );
    expect(attempt).toThrow(/2 entries, hidden ones included/);
    expect(attempt).not.toThrow(/ssh|bashrc/);
    expect(readdirSync(home).sort()).toEqual(['.bashrc', '.ssh']);
  });

  it('a create that fails leaves the folder as it was, so it can be chosen again', () => {
    const parent = scratch('store-failed-create');
    const fresh = path.join(parent, 'fresh');
    const empty = path.join(parent, 'empty');
    mkdirSync(empty);
    for (const dir of [fresh, empty]) {
      expect(() =>
        ProjectStore.create(dir, { sources: projectSources(), settings: { training: { batchSize: -1 } } }),
      ).toThrow(/batchSize/);
    }
    expect(existsSync(fresh)).toBe(false);
    expect(readdirSync(empty)).toEqual([]);
    ProjectStore.create(empty, { sources: projectSources() }).close();
  });

  it('remove deletes what the project wrote, keeps everything else, and the folder when anything stays', async () => {
    const dir = makeProject('store-remove');
    const ours = [
      'thumbs/a/000000.jpg',
      'faces/b/000012.png',
      'masks/7-mouth.png',
      'checkpoints/run-2/ckpt-00000010.fpck',
      'previews/run-2/00000010.png',
      'previews/convert/b-000003-mask.png',
      'models/generator.fpm',
      'cache/tracking/0123456789abcdef0123456789abcdef.bin',
      'exports/out.mp4',
      'exports/out.mp4.track.json',
      'index.sqlite.damaged-2024-01-02T03-04-05-678Z',
      'thumbs/a/.fp-tmp-000001.jpg.ab12',
    ];
    const theirs = [
      '.git/config',
      'README.md',
      'thumbs/a/1.jpg',
      'exports/other.mp4',
      'models/generator.fpm.bak',
      'checkpoints/run-x/ckpt-1.fpck',
      'cache/tracking/notes.txt',
      'photos/000000.jpg',
      'faces/c/000000.png',
    ];
    for (const rel of [...ours, ...theirs]) {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      writeFileSync(path.join(dir, rel), rel);
    }
    const db = new Database(path.join(dir, INDEX_FILE));
    db.prepare("INSERT INTO exports (path, created_at, config) VALUES (?, 'now', '{}')").run(
      path.join(dir, 'exports', 'out.mp4'),
    );
    db.close();
    // A symbolic link named like a thumbnail is not the project's (it makes none), and is not followed.
    symlinkSync(path.join(dir, 'README.md'), path.join(dir, 'thumbs', 'b', '000000.jpg'));
    const manifest = await projectManifest(dir);
    expect(manifest.files.map((f) => path.relative(dir, f).split(path.sep).join('/')).sort()).toEqual(
      [
        ...ours,
        PROJECT_FILE,
        INDEX_FILE,
        ...(existsSync(path.join(dir, `${INDEX_FILE}-wal`)) ? [`${INDEX_FILE}-wal`, `${INDEX_FILE}-shm`] : []),
      ].sort(),
    );
    const report = await ProjectStore.remove(dir);
    expect(report.folderRemoved).toBe(false);
    expect(report.kept).toEqual(
      [
        '.git/',
        'README.md',
        'cache/tracking/notes.txt',
        'checkpoints/run-x/',
        'exports/other.mp4',
        'faces/c/',
        'models/generator.fpm.bak',
        'photos/',
        'thumbs/a/1.jpg',
        'thumbs/b/000000.jpg',
      ].sort(),
    );
    for (const rel of theirs) expect(readFileSync(path.join(dir, rel), 'utf8'), rel).toBe(rel);
    for (const rel of [...ours, PROJECT_FILE, INDEX_FILE, 'masks', 'previews', 'faces/a']) {
      expect(existsSync(path.join(dir, rel)), rel).toBe(false);
    }
    expect(lstatSync(path.join(dir, 'thumbs', 'b', '000000.jpg')).isSymbolicLink()).toBe(true);
    // A project with nothing else in it goes entirely; a folder that is not a project is refused.
    const clean = makeProject('store-remove-clean');
    expect(await ProjectStore.remove(clean)).toMatchObject({ kept: [], folderRemoved: true });
    expect(existsSync(clean)).toBe(false);
    await expect(ProjectStore.remove(dir)).rejects.toThrow(/not a FaceParts project/);
  });

  it('refuses a project written by a newer version, naming the file and the fix', () => {
    const dir = makeProject('store-newer');
    const file = path.join(dir, PROJECT_FILE);
    const json = JSON.parse(readFileSync(file, 'utf8')) as { schemaVersion: number };
    writeFileSync(file, JSON.stringify({ ...json, schemaVersion: PROJECT_SCHEMA_VERSION + 1 }));
    expect(() => ProjectStore.open(dir)).toThrow(
      expect.objectContaining({ code: 'PROJECT_TOO_NEW', file, fix: expect.stringMatching(/update/) }),
    );
  });

  it('refuses an index from a newer version', () => {
    const dir = makeProject('store-newer-db');
    const db = new Database(path.join(dir, INDEX_FILE));
    db.pragma(`user_version = ${DB_SCHEMA_VERSION + 5}`);
    db.close();
    expect(() => ProjectStore.open(dir)).toThrow(expect.objectContaining({ code: 'PROJECT_TOO_NEW' }));
  });

  it('explains a damaged project.json', () => {
    const dir = makeProject('store-damaged');
    writeFileSync(path.join(dir, PROJECT_FILE), '{"schemaVersion": 1, "name": ');
    expect(() => ProjectStore.open(dir)).toThrow(
      expect.objectContaining({ code: 'PROJECT_INVALID', file: path.join(dir, PROJECT_FILE) }),
    );
    writeFileSync(path.join(dir, PROJECT_FILE), JSON.stringify({ schemaVersion: 1, name: 5 }));
    expect(() => ProjectStore.open(dir)).toThrow(expect.objectContaining({ code: 'PROJECT_INVALID' }));
  });

  it('rejects invalid settings patches without touching project.json', () => {
    const dir = makeProject('store-badsettings');
    const before = readFileSync(path.join(dir, PROJECT_FILE), 'utf8');
    const store = ProjectStore.open(dir);
    expect(() => store.updateSettings({ training: { batchSize: -3 } })).toThrow(
      expect.objectContaining({ field: 'settings.training.batchSize' }),
    );
    store.close();
    expect(readFileSync(path.join(dir, PROJECT_FILE), 'utf8')).toBe(before);
  });
});
