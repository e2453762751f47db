/**
 * A video decoder's reader thread (decode.ts): blocking reads from the FIFO ffmpeg writes raw frames into, straight
 * into the frame buffers the decoder hands it. Read through a Node stream, each 64 KB of a pipe becomes a new
 * Buffer and an event on the main thread (~1.5 ms of CPU a 360p frame, and garbage); read here, ~0.4 ms.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

/** Fill `length` bytes of `buffer` from `offset` with the next frame. */
export interface FillRequest {
  buffer: SharedArrayBuffer;
  offset: number;
  length: number;
}

/** A fill's answer: the bytes read (fewer at the end of the stream), or why reading failed. */
export type FillAnswer = { filled: number; ended: boolean } | { error: string };

const port = parentPort;
if (!port) throw new Error('fifo-reader.js runs as a worker thread (media/decode.ts starts it)');
// Opening the read end does not block: the decoder holds a write end open until this answers.
const fd = openSync((workerData as { fifo: string }).fifo, 'r');
port.postMessage({ opened: true });
let ended = false;
let closed = false;
const closeOnce = (): void => {
  if (!closed) closeSync(fd);
  closed = true;
};
port.on('message', (request: FillRequest | { close: true }) => {
  if ('close' in request) {
    closeOnce();
    port.postMessage({ filled: 0, ended: true } satisfies FillAnswer);
    return;
  }
  const { buffer, offset, length } = request;
  if (ended) {
    port.postMessage({ filled: 0, ended } satisfies FillAnswer);
    return;
  }
  const frame = new Uint8Array(buffer, offset, length);
  let filled = 0;
  try {
    while (!ended && filled < length) {
      const n = readSync(fd, frame, filled, length - filled, null);
      if (n === 0) ended = true;
      else filled += n;
    }
    port.postMessage({ filled, ended } satisfies FillAnswer);
  } catch (error) {
    ended = true;
    port.postMessage({ error: (error as Error).message } satisfies FillAnswer);
  }
  if (ended) closeOnce();
});
