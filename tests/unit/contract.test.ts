import { describe, expect, it } from 'vitest';
import {
  ContractClient,
  ErrorCode,
  StudioError,
  methodNames,
  parseRequest,
  type RequestEnvelope,
} from '../../src-shared/contract/index.js';

function rejection(raw: unknown): StudioError {
  try {
    parseRequest(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(StudioError);
    return error as StudioError;
  }
  throw new Error(`accepted ${JSON.stringify(raw)}`);
}

describe('request validation', () => {
  it('accepts a well-formed request and applies defaults', () => {
    const parsed = parseRequest({ kind: 'request', id: 1, method: 'frames.list', params: { dir: '/p', side: 'a' } });
    expect(parsed.method).toBe('frames.list');
    expect(parsed.params).toEqual({ dir: '/p', side: 'a', offset: 0, limit: 500 });
  });

  it.each([
    [null, 'INVALID_MESSAGE'],
    ['hello', 'INVALID_MESSAGE'],
    [42, 'INVALID_MESSAGE'],
    [[], 'INVALID_MESSAGE'],
    [{ kind: 'request' }, 'INVALID_MESSAGE'],
    [{ kind: 'event', id: 1, method: 'engine.info' }, 'INVALID_MESSAGE'],
    [{ kind: 'request', id: {}, method: 'engine.info' }, 'INVALID_MESSAGE'],
    [{ kind: 'request', id: 1, method: 'engine.nope', params: {} }, 'UNKNOWN_METHOD'],
    [{ kind: 'request', id: 1, method: '__proto__', params: {} }, 'UNKNOWN_METHOD'],
    [{ kind: 'request', id: 1, method: 'toString', params: {} }, 'UNKNOWN_METHOD'],
  ])('rejects %j with %s', (raw, code) => {
    expect(rejection(raw).code).toBe(code);
  });

  it('names the offending field of bad params', () => {
    const error = rejection({ kind: 'request', id: 7, method: 'frames.list', params: { dir: '/p', side: 'c' } });
    expect(error.code).toBe(ErrorCode.invalidParams);
    expect(error.field).toBe('params.side');
    expect(error.message).toMatch(/params\.side/);
  });

  it('names nested fields and lists allowed enum values', () => {
    const error = rejection({
      kind: 'request',
      id: 'x',
      method: 'project.updateSettings',
      params: { dir: '/p', patch: { converter: { color_correction: 'SEPIA' } } },
    });
    expect(error.field).toBe('params.patch.converter.color_correction');
    expect(error.message).toMatch(/HISTMATCH/);
  });

  it('rejects a job of unknown type', () => {
    const error = rejection({
      kind: 'request',
      id: 1,
      method: 'jobs.start',
      params: { dir: '/p', job: { type: 'mine-bitcoin' } },
    });
    expect(error.field).toBe('params.job.type');
  });

  it('every method has params and result schemas', () => {
    expect(methodNames.length).toBeGreaterThan(20);
    for (const name of methodNames) {
      expect(() => parseRequest({ kind: 'request', id: 1, method: name, params: 12 })).toThrow(StudioError);
    }
  });
});

describe('ContractClient', () => {
  it('resolves validated results and rejects engine errors as StudioError', async () => {
    const sent: RequestEnvelope[] = [];
    const client = new ContractClient((m) => sent.push(m));
    const ok = client.request('project.forget', { dir: '/p' });
    const bad = client.request('project.open', { dir: '/q' });
    client.receive({ kind: 'response', id: sent[0]?.id, ok: true, result: { forgotten: true } });
    client.receive({
      kind: 'response',
      id: sent[1]?.id,
      ok: false,
      error: { code: 'NOT_FOUND', message: 'nope', file: '/q' },
    });
    await expect(ok).resolves.toEqual({ forgotten: true });
    await expect(bad).rejects.toMatchObject({ code: 'NOT_FOUND', file: '/q' });
  });

  it('rejects a reply whose result does not match the contract instead of trusting it', async () => {
    const sent: RequestEnvelope[] = [];
    const client = new ContractClient((m) => sent.push(m));
    const pending = client.request('project.forget', { dir: '/p' });
    client.receive({ kind: 'response', id: sent[0]?.id, ok: true, result: { forgotten: 'yes' } });
    await expect(pending).rejects.toMatchObject({ code: 'INVALID_MESSAGE', field: 'result.forgotten' });
  });

  it('reports malformed incoming messages without throwing and keeps delivering valid events', () => {
    const invalid: StudioError[] = [];
    const events: string[] = [];
    const client = new ContractClient(() => undefined, { onInvalidMessage: (e) => invalid.push(e) });
    client.onEvent((e) => events.push(e.type));
    for (const raw of [undefined, 'x', { kind: 'event', event: { type: 'nope' } }, { kind: 'response' }])
      client.receive(raw);
    client.receive({ kind: 'event', event: { type: 'log', level: 'info', message: 'hi', jobId: null, time: 't' } });
    expect(invalid).toHaveLength(4);
    expect(events).toEqual(['log']);
  });

  it('fails in-flight and later requests once closed', async () => {
    const client = new ContractClient(() => undefined);
    const pending = client.request('engine.info', {});
    client.close('engine exited');
    await expect(pending).rejects.toMatchObject({ code: 'ENGINE_GONE' });
    await expect(client.request('engine.info', {})).rejects.toMatchObject({ code: 'ENGINE_GONE' });
  });
});

describe('patches carry only what the caller set', () => {
  it('a converter or training patch does not fill in defaults that would overwrite project settings', () => {
    const parsed = parseRequest({
      kind: 'request',
      id: 1,
      method: 'jobs.start',
      params: {
        dir: '/p',
        job: { type: 'convert', input: '/i.mp4', output: '/o.mp4', config: { segmentation: 'EYES' } },
      },
    });
    // A name earlier versions wrote arrives as the fork's name for it.
    expect((parsed.params as { job: { config: Record<string, unknown> } }).job.config).toEqual({
      segmentation: 'EYES_ONLY',
    });
    const train = parseRequest({
      kind: 'request',
      id: 2,
      method: 'jobs.start',
      params: { dir: '/p', job: { type: 'train', overrides: { iterations: 5 } } },
    });
    expect((train.params as { job: { overrides: Record<string, unknown> } }).job.overrides).toEqual({ iterations: 5 });
    const patch = parseRequest({
      kind: 'request',
      id: 3,
      method: 'project.updateSettings',
      params: { dir: '/p', patch: { converter: { roi_coverage: 0.85 } } },
    });
    expect((patch.params as { patch: { converter: Record<string, unknown> } }).patch.converter).toEqual({
      roi_coverage: 0.85,
    });
    expect(() =>
      parseRequest({
        kind: 'request',
        id: 4,
        method: 'jobs.start',
        params: { dir: '/p', job: { type: 'train', overrides: { width: 5 } } },
      }),
    ).toThrow(/width|Unrecognized/);
  });
});
