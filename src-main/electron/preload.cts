/**
 * Sandboxed preload (CommonJS: sandboxed preloads cannot be ES modules; compiled to preload.cjs).
 * Exposes exactly `window.faceparts` to the renderer: request/reply and events over two IPC channels,
 * and a native file/folder picker. ipcRenderer itself is never exposed.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';

type PickKind = 'file' | 'folder' | 'directory' | 'save';
/** Validated in the main process (strict): kind, optional title and file filters. */
interface PickOptions {
  kind: PickKind;
  title?: string;
  filters?: { name: string; extensions: string[] }[];
}

const bridge = {
  platform: 'electron' as const,
  /** Send a request envelope; resolves with the response envelope (errors are envelopes too). */
  request: (envelope: unknown): Promise<unknown> => ipcRenderer.invoke('faceparts:request', envelope),
  /** Subscribe to engine event envelopes; returns the unsubscribe function. */
  onEvent: (cb: (message: unknown) => void): (() => void) => {
    const h = (_e: IpcRendererEvent, msg: unknown): void => cb(msg);
    ipcRenderer.on('faceparts:event', h);
    return () => {
      ipcRenderer.removeListener('faceparts:event', h);
    };
  },
  /** Native picker (a kind, or {kind, title?, filters?}); resolves with the chosen path or null when cancelled. */
  pickPath: (kind: PickKind | PickOptions): Promise<string | null> =>
    ipcRenderer.invoke('faceparts:pickPath', typeof kind === 'string' ? { kind } : kind),
};

contextBridge.exposeInMainWorld('faceparts', bridge);
