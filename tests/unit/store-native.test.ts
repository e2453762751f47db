import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '../../src-shared/contract/index.js';
import { INDEX_FILE, ProjectStore } from '../../src-main/engine/project/store.js';
import { scratch } from '../helpers/paths.js';
import { projectSources } from '../helpers/project-sources.js';

afterEach(() => {
  vi.doUnmock('better-sqlite3');
  vi.resetModules();
});

describe('the project index when the database module cannot load', () => {
  it('says so and leaves the index where it is (not moved aside as damaged for its older backup)', async () => {
    const dir = path.join(scratch('store-native'), 'project');
    const store = ProjectStore.create(dir, { name: 'Test', sources: projectSources() });
    await store.backupIndex();
    store.close();
    const before = readdirSync(dir).sort();
    const index = readFileSync(path.join(dir, INDEX_FILE));
    // What better-sqlite3 throws on its first use when it was built for another Node.js.
    vi.resetModules();
    vi.doMock('better-sqlite3', () => ({
      default: class {
        constructor() {
          throw Object.assign(
            new Error(
              'The module better_sqlite3.node\nwas compiled against a different Node.js version using NODE_MODULE_VERSION 115.',
            ),
            { code: 'ERR_DLOPEN_FAILED' },
          );
        }
      },
    }));
    const reloaded = await import('../../src-main/engine/project/store.js');
    let thrown: unknown = null;
    try {
      reloaded.ProjectStore.open(dir);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: ErrorCode.internal });
    expect(String((thrown as Error).message)).toMatch(/database module did not load/);
    expect(String((thrown as Error).message)).not.toMatch(/damaged/);
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(readFileSync(path.join(dir, INDEX_FILE)).equals(index)).toBe(true);
  });
});
