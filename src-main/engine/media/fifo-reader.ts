/**
 * A video decoder's reader thread (decode.ts): blocking reads from the FIFO ffmpeg writes raw frames into, straight
 * into the frame buffers the decoder hands it. Read through a Node stream, each 64 KB of a pipe becomes a new
 * Buffer and an event on the main thread (~1.5 ms of CPU a 360p frame, and garbage); read here, ~0.4 ms.
 * A thread serves one decoder at a time and then the next (raw-frames.ts keeps idle ones): open, fills, close.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

/** Open a decoder's FIFO (its read end). */
export interface OpenRequest {
  open: string;
}

/** Fill `length` bytes of `buffer` from `offset` with the next frame. */
export interface FillRequest {
  buffer: SharedArrayBuffer;
  offset: number;
  length: number;
}

/** Close the FIFO: the thread is free for another decoder. */
export interface CloseRequest {
  close: true;
}

export type ReaderRequest = OpenRequest | FillRequest | CloseRequest;

/** An answer: the bytes read (fewer at the end of the stream; 0 for an open or a close), or why it failed. */
export type ReaderAnswer = { filled: number; ended: boolean } | { error: string };

const port = parentPort;
if (!port) throw new Error('fifo-reader.js runs as a worker thread (media/raw-frames.ts starts it)');
let fd: number | null = null;
let ended = false;
const closeFifo = (): void => {
  if (fd !== null) closeSync(fd);
  fd = null;
};
const answer = (message: ReaderAnswer): void => port.postMessage(message);

port.on('message', (request: ReaderRequest) => {
  if ('open' in request) {
    closeFifo();
    ended = false;
    try {
      // Does not block: the decoder holds a write end open until this answers.
      fd = openSync(request.open, 'r');
      answer({ filled: 0, ended: false });
    } catch (error) {
      answer({ error: (error as Error).message });
    }
    return;
  }
  if ('close' in request) {
    closeFifo();
    answer({ filled: 0, ended: true });
    return;
  }
  const { buffer, offset, length } = request;
  if (ended || fd === null) {
    answer({ filled: 0, ended: true });
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
    answer({ filled, ended });
  } catch (error) {
    ended = true;
    answer({ error: (error as Error).message });
  }
  if (ended) closeFifo();
});
