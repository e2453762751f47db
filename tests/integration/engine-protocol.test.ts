import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { methodNames } from '../../src-shared/contract/index.js';
import type { EngineProcess } from '../../src-main/host-node/engine-process.js';
import { nextMessage, startEngine } from '../helpers/engine.js';
import { scratch } from '../helpers/paths.js';
import { recordReliability } from '../helpers/reliability.js';

/** Malformed payloads for every channel: wrong types, missing fields, junk, hostile keys. */
const junkParams: unknown[] = [
  null,
  42,
  'x',
  [],
  { dir: 5 },
  { dir: '' },
  { jobId: {} },
  JSON.parse('{"__proto__": {"polluted": true}}'),
  { dir: '/p', side: 'z', limit: -1 },
];

/**
 * glibc's thread arenas in a process's memory map: each is a heap in its own 64 MB-aligned 64 MB reservation, the
 * part in use read-write and the rest inaccessible (glibc malloc/arena.c new_heap).
 */
function threadArenaHeaps(pid: number | undefined): number {
  const heapMax = 64 * 2 ** 20;
  const rows = readFileSync(`/proc/${pid}/maps`, 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [range = '', perms = ''] = line.split(/\s+/);
      const [start = 0, end = 0] = range.split('-').map((x) => Number.parseInt(x, 16));
      return { start, end, perms };
    });
  return rows.filter((row, i) => {
    if (row.start % heapMax !== 0 || row.perms !== 'rw-p') return false;
    const rest = rows[i + 1];
    return (
      row.end - row.start === heapMax ||
      (rest?.start === row.end && rest.perms === '---p' && rest.end - row.start === heapMax)
    );
  }).length;
}

describe('engine child process: malformed messages', () => {
  let engine: EngineProcess;
  beforeAll(() => {
    engine = startEngine(path.join(scratch('engine-protocol'), 'home'));
  });
  afterAll(async () => {
    await engine.stop();
  });

  it.runIf(process.platform === 'linux')(
    'starts with the engine environment: malloc asked for huge pages, and one arena for every thread',
    async () => {
      // glibc rewrites GLIBC_TUNABLES in the process's own copy once it has read it (arena_max is gone from
      // /proc/PID/environ though it applies), so the arena is checked by what it does: no thread arena heaps.
      const environ = readFileSync(`/proc/${engine.child.pid}/environ`, 'utf8').split('\0');
      expect(environ.find((e) => e.startsWith('GLIBC_TUNABLES='))).toContain('glibc.malloc.hugetlb=1');
      expect(environ).toContain('FACEPARTS_RUNTIME=node-child');
      await engine.client.request('engine.info', {});
      expect(threadArenaHeaps(engine.child.pid)).toBe(0);
      // The check itself sees them where a process has them: the same engine with the user's own arena_max.
      const own = startEngine(path.join(scratch('engine-protocol-arenas'), 'home'), {
        GLIBC_TUNABLES: 'glibc.malloc.arena_max=8',
      });
      try {
        await own.client.request('engine.info', {});
        expect(threadArenaHeaps(own.child.pid)).toBeGreaterThan(0);
      } finally {
        await own.stop();
      }
    },
  );

  it('answers every malformed message on every method with a typed error, and keeps serving', async () => {
    let sent = 0;
    // engine.shutdown with valid params would (rightly) stop the engine; it is fuzzed with invalid ones only below.
    for (const method of methodNames.filter((m) => m !== 'engine.shutdown')) {
      for (const params of junkParams) {
        const id = `m${sent++}`;
        const reply = nextMessage(engine, (m) => m.kind === 'response' && m.id === id);
        engine.sendRaw({ kind: 'request', id, method, params });
        const response = (await reply) as { ok: boolean; error?: { code: string; field?: string } };
        // Methods with no required params accept {}-like junk only when it is an object; all else must fail typed.
        if (response.ok) {
          expect(
            typeof params === 'object' && params !== null && !Array.isArray(params),
            `${method} accepted ${JSON.stringify(params)}`,
          ).toBe(true);
        } else {
          expect(response.error?.code, `${method} ${JSON.stringify(params)}`).toMatch(/^[A-Z_]+$/);
          if (response.error?.code === 'INVALID_PARAMS') expect(response.error.field).toMatch(/^params/);
        }
      }
    }
    for (const params of [null, 42, { checkpoint: 'yes' }, { extra: 1 }]) {
      const id = `m${sent++}`;
      const reply = nextMessage(engine, (m) => m.kind === 'response' && m.id === id);
      engine.sendRaw({ kind: 'request', id, method: 'engine.shutdown', params });
      expect(((await reply) as { ok: boolean }).ok).toBe(false);
    }
    for (const raw of [
      'just a string',
      17,
      null,
      [],
      { kind: 'request' },
      { kind: 'request', id: 'x1', method: 'no.such', params: {} },
    ]) {
      const reply = nextMessage(engine, (m) => m.kind === 'response' && m.ok === false);
      engine.sendRaw(raw);
      const response = (await reply) as { error: { code: string } };
      expect(['INVALID_MESSAGE', 'UNKNOWN_METHOD']).toContain(response.error.code);
      sent += 1;
    }
    expect(sent).toBeGreaterThan(200);
    recordReliability('engine: malformed contract messages', { hostileMessages: sent });
    const info = await engine.client.request('engine.info', {});
    expect(info.runtime).toBe('node-child');
    expect(info.pid).toBe(engine.child.pid);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
