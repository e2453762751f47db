import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type RunningServer } from '../../src-main/serve/server.js';
import { runCli } from '../helpers/cli.js';
import { scratch } from '../helpers/paths.js';
import { RELIABILITY_DIR } from '../helpers/reliability.js';
import { synthClip } from '../helpers/synth.js';

const CLIENTS = 12;
const ITERATIONS = 200;

interface Client {
  ws: WebSocket;
  losses: number;
  request(method: string, params: unknown): Promise<Record<string, unknown>>;
}

function client(url: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    let next = 0;
    const waiting = new Map<string, (reply: Record<string, unknown>) => void>();
    const self: Client = {
      ws,
      losses: 0,
      request: (method, params) =>
        new Promise((done) => {
          const id = `r${(next += 1)}`;
          waiting.set(id, done);
          ws.send(JSON.stringify({ kind: 'request', id, method, params }));
        }),
    };
    ws.on('message', (data: WebSocket.RawData) => {
      const message = JSON.parse(data.toString()) as Record<string, unknown>;
      if (message.kind === 'response') waiting.get(message.id as string)?.(message);
      else if ((message.event as { type?: string } | undefined)?.type === 'train.losses') self.losses += 1;
    });
    ws.once('open', () => resolve(self));
    ws.once('error', reject);
  });
}

describe('load: many UI clients on serve mode during a 200-iteration training run', () => {
  let root: string;
  let server: RunningServer;
  let project: string;

  beforeAll(async () => {
    root = scratch('load');
    const home = path.join(root, 'home');
    const a = await synthClip(path.join(root, 'clips', 'a'), ['a_obama_1.jpg', 'a_obama_2.jpg'], 2);
    const b = await synthClip(path.join(root, 'clips', 'b'), ['b_biden_2.jpg', 'b_biden_1.jpg'], 2);
    project = path.join(root, 'project');
    expect((await runCli(['new', project, '--a', a, '--b', b, '--json'], { FACEPARTS_HOME: home })).code).toBe(0);
    expect((await runCli(['extract', project, '--json'], { FACEPARTS_HOME: home })).code).toBe(0);
    server = await startServer({ port: 0, env: { FACEPARTS_HOME: home } });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('every client sees every iteration; the tensor count stays flat and the memory bounded', async () => {
    const url = `ws://127.0.0.1:${server.port}/ws`;
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => client(url)));
    const [first] = clients as [Client];
    await first.request('project.open', { dir: project });
    const memory = async (): Promise<{ rssMB: number; tensors: number | null }> =>
      ((await first.request('engine.info', {})).result as { memory: { rssMB: number; tensors: number | null } }).memory;
    const train = async (iterations: number): Promise<void> => {
      const started = await first.request('jobs.start', {
        dir: project,
        job: {
          type: 'train',
          overrides: {
            iterations,
            batchSize: 2,
            modelWidth: 4,
            discriminatorWidth: 4,
            useSelfAttention: false,
            perceptualLoss: false,
            previewEvery: 50,
            checkpointEvery: 100,
            seed: 1,
          },
        },
      });
      expect(started.ok, JSON.stringify(started)).toBe(true);
      const id = (started.result as { id: string }).id;
      await expect
        .poll(async () => ((await first.request('jobs.get', { jobId: id })).result as { state: string }).state, {
          timeout: 240_000,
          interval: 500,
        })
        .toBe('completed');
    };
    // Every client polls the engine as a page would while the runs go on.
    const polling = setInterval(() => {
      for (const c of clients) void c.request('jobs.list', { dir: project });
    }, 500);
    let warm: { rssMB: number; tensors: number | null };
    let late: { rssMB: number; tensors: number | null };
    try {
      // A short run first, so the backend, the model code and the caches exist; then the same run on to 200.
      // A leak of even one tensor per iteration would show as 190 more at the end.
      await train(10);
      warm = await memory();
      await train(ITERATIONS);
      late = await memory();
    } finally {
      clearInterval(polling);
    }
    const report = {
      clients: CLIENTS,
      iterations: ITERATIONS,
      tensorsAfter10: warm.tensors,
      tensorsAfter200: late.tensors,
      rssMBAfter10: warm.rssMB,
      rssMBAfter200: late.rssMB,
      rssGrowthMB: late.rssMB - warm.rssMB,
    };
    mkdirSync(RELIABILITY_DIR, { recursive: true });
    writeFileSync(path.join(RELIABILITY_DIR, 'load.json'), `${JSON.stringify(report, null, 2)}\n`);
    console.log(`load: ${JSON.stringify(report)}`);
    await expect.poll(() => Math.min(...clients.map((c) => c.losses))).toBe(ITERATIONS);
    expect(warm.tensors).not.toBeNull();
    expect(late.tensors).toBe(warm.tensors);
    expect(report.rssGrowthMB).toBeLessThan(250);
    for (const c of clients) c.ws.close();
  }, 300_000);
});
