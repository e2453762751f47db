import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { methodNames } from '../../src-shared/contract/index.js';
import { startServer, type RunningServer } from '../../src-main/serve/server.js';
import { AuthLimiter, hostAllowed, hostHeaderName, isLoopback, originAllowed } from '../../src-main/serve/security.js';
import { runCli } from '../helpers/cli.js';
import { copyMedia, imageFolder, scratch } from '../helpers/paths.js';
import { recordReliability } from '../helpers/reliability.js';

function connect(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

function call(ws: WebSocket, message: unknown): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData): void => {
      const parsed = JSON.parse(data.toString()) as Record<string, unknown>;
      if (parsed.kind !== 'response') return;
      ws.off('message', onMessage);
      resolve(parsed);
    };
    ws.on('message', onMessage);
    ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  });
}

describe('serve mode', () => {
  let server: RunningServer;
  let root: string;
  let projectDir: string;
  let base: string;

  beforeAll(async () => {
    root = scratch('serve');
    const home = path.join(root, 'home');
    const [video] = copyMedia(path.join(root, 'media'), ['whitehouse_performance_360p.mp4']) as [string];
    const stills = imageFolder(path.join(root, 'media', 'b'), ['b_biden_2.jpg']);
    projectDir = path.join(root, 'project');
    await runCli(['new', projectDir, '--a', video, '--b', stills, '--json'], { FACEPARTS_HOME: home });
    await runCli(['extract', projectDir, '--side', 'b', '--json'], { FACEPARTS_HOME: home });
    writeFileSync(path.join(root, 'secret.txt'), 'outside the project');
    symlinkSync(path.join(root, 'secret.txt'), path.join(projectDir, 'thumbs', 'escape.txt'));
    server = await startServer({ port: 0, env: { FACEPARTS_HOME: home } });
    base = `http://127.0.0.1:${server.port}`;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('serves the renderer on loopback without a token, with security headers and no listings', async () => {
    expect(server.tokenRequired).toBe(false);
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<div id="app"|<body/);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect((await fetch(`${base}/assets/`)).status).toBe(404);
    expect((await fetch(`${base}/..%2f..%2fpackage.json`)).status).toBe(404);
    expect((await fetch(`${base}/`, { method: 'POST' })).status).toBe(405);
  });

  it('answers the contract over the WebSocket and routes replies to the right client', async () => {
    const one = await connect(`ws://127.0.0.1:${server.port}/ws`);
    const two = await connect(`ws://127.0.0.1:${server.port}/ws`);
    const [a, b] = await Promise.all([
      call(one, { kind: 'request', id: 1, method: 'project.open', params: { dir: projectDir } }),
      call(two, { kind: 'request', id: 1, method: 'engine.info', params: {} }),
    ]);
    expect(a).toMatchObject({ id: 1, ok: true, result: { dir: projectDir, counts: { b: { framesIndexed: 1 } } } });
    expect(b).toMatchObject({ id: 1, ok: true, result: { runtime: 'node-child' } });
    one.close();
    two.close();
  });

  it('answers hostile and malformed messages with typed errors and keeps serving', async () => {
    const ws = await connect(`ws://127.0.0.1:${server.port}/ws`);
    let count = 0;
    for (const raw of [
      '{not json',
      '"text"',
      '[]',
      'null',
      JSON.stringify({ kind: 'request', id: 2, method: 'x', params: {} }),
    ]) {
      const reply = await call(ws, raw);
      expect(reply.ok).toBe(false);
      count += 1;
    }
    for (const method of methodNames) {
      const reply = await call(ws, {
        kind: 'request',
        id: `h${count}`,
        method,
        params: { dir: 7, jobId: [], __extra: true },
      });
      expect(reply).toMatchObject({ id: `h${count}`, ok: false, error: { code: 'INVALID_PARAMS' } });
      count += 1;
    }
    const ok = await call(ws, { kind: 'request', id: 'after', method: 'engine.info', params: {} });
    expect(ok.ok).toBe(true);
    recordReliability('serve: hostile WebSocket messages', { hostileMessages: count });
    ws.close();
  });

  it('refuses cross-origin WebSocket upgrades', async () => {
    await expect(connect(`ws://127.0.0.1:${server.port}/ws`, { Origin: 'https://evil.example' })).rejects.toThrow(
      /403/,
    );
    const same = await connect(`ws://127.0.0.1:${server.port}/ws`, { Origin: base });
    same.close();
    expect(originAllowed('http://127.0.0.1:80', '127.0.0.1:81')).toBe(false);
    expect(originAllowed('null', '127.0.0.1:81')).toBe(false);
  });

  it('serves project media only inside an open project', async () => {
    const ok = await fetch(
      `${base}/media?dir=${encodeURIComponent(projectDir)}&path=${encodeURIComponent('thumbs/b/000000.jpg')}`,
    );
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('image/jpeg');
    for (const rel of ['../secret.txt', '/etc/passwd', 'thumbs/escape.txt', 'thumbs/../../secret.txt']) {
      const res = await fetch(`${base}/media?dir=${encodeURIComponent(projectDir)}&path=${encodeURIComponent(rel)}`);
      expect(res.status, rel).toBe(403);
    }
    const otherProject = path.join(root, 'media');
    mkdirSync(otherProject, { recursive: true });
    expect((await fetch(`${base}/media?dir=${encodeURIComponent(otherProject)}&path=b%2Fb_biden_2.jpg`)).status).toBe(
      403,
    );
  });
});

describe('serve mode beyond loopback', () => {
  it('requires the token, and rate-limits failed attempts', async () => {
    const home = path.join(scratch('serve-token'), 'home');
    const server = await startServer({
      host: '127.0.0.1',
      port: 0,
      token: 'secret-token-123',
      env: { FACEPARTS_HOME: home },
    });
    try {
      expect(server.tokenRequired).toBe(true);
      expect(server.url).toContain('token=secret-token-123');
      await expect(connect(`ws://127.0.0.1:${server.port}/ws`)).rejects.toThrow(/401/);
      const ws = await connect(`ws://127.0.0.1:${server.port}/ws?token=secret-token-123`);
      ws.close();
      // The tokenless attempt above was the first failure; four more reach the limit of five, then wrong tokens
      // are throttled (429), while the right one still gets in.
      for (let i = 0; i < 4; i += 1)
        await expect(connect(`ws://127.0.0.1:${server.port}/ws?token=wrong${i}`)).rejects.toThrow(/401/);
      await expect(connect(`ws://127.0.0.1:${server.port}/ws?token=wrong`)).rejects.toThrow(/429/);
      const again = await connect(`ws://127.0.0.1:${server.port}/ws?token=secret-token-123`);
      again.close();
    } finally {
      await server.close();
    }
    const limiter = new AuthLimiter(2, 1000);
    limiter.fail('x', 0);
    limiter.fail('x', 10);
    expect(limiter.throttled('x', 20)).toBe(true);
    expect(limiter.throttled('x', 2000)).toBe(false);
    await expect(
      startServer({ port: 0, token: 'short', env: { FACEPARTS_HOME: scratch('serve-short') } }),
    ).rejects.toThrow(/at least 16 characters/);
    await expect(
      startServer({ port: 0, allowedHosts: ['a b'], env: { FACEPARTS_HOME: scratch('serve-bad-host') } }),
    ).rejects.toThrow(/--allow-host: "a b" is not a host name/);
  });

  it('generates a token when binding to a non-loopback address', async () => {
    const server = await startServer({
      host: '0.0.0.0',
      port: 0,
      env: { FACEPARTS_HOME: path.join(scratch('serve-any'), 'home') },
    });
    try {
      expect(server.tokenRequired).toBe(true);
      expect(server.token?.length).toBeGreaterThanOrEqual(20);
    } finally {
      await server.close();
    }
  });
});

describe('serve security helpers', () => {
  it('knows loopback by address, not by a name that starts like one', () => {
    for (const host of ['127.0.0.1', '127.9.8.7', 'localhost', 'LOCALHOST.', '::1', '[::1]', '::ffff:127.0.0.1'])
      expect(isLoopback(host), host).toBe(true);
    for (const host of [
      '127.attacker.example',
      '127.0.0.1.nip.io',
      'localhost.attacker.example',
      '0.0.0.0',
      '10.0.0.1',
    ])
      expect(isLoopback(host), host).toBe(false);
  });

  it('accepts only Host names that DNS cannot rebind: loopback, allowed names, IP literals on a wildcard bind', () => {
    const allowed = new Set(['studio.lan']);
    expect(hostHeaderName('[::1]:7770')).toBe('::1');
    expect(hostHeaderName('Studio.LAN.:80')).toBe('studio.lan');
    for (const bad of ['[::1', 'a:b:c', 'x:99999999', '', '[zz]:1', 'a b']) expect(hostHeaderName(bad), bad).toBeNull();
    expect(hostAllowed('localhost:7770', allowed, false)).toBe(true);
    expect(hostAllowed('studio.lan:7770', allowed, false)).toBe(true);
    expect(hostAllowed(undefined, allowed, false)).toBe(true); // HTTP/1.0 without Host: not a browser
    expect(hostAllowed('rebind.attacker.example:7770', allowed, false)).toBe(false);
    expect(hostAllowed('192.168.1.5:7770', allowed, false)).toBe(false);
    expect(hostAllowed('192.168.1.5:7770', allowed, true)).toBe(true);
    expect(hostAllowed('[fe80::1]:7770', allowed, true)).toBe(true);
    expect(hostAllowed('rebind.attacker.example', allowed, true)).toBe(false);
  });
});
