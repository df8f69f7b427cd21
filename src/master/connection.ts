// One client's connection to the master, as the session sees it.

import type net from 'node:net';
import { ByteQueue } from './byte-queue.js';
import { FrameDecoder } from '../common/protocol.js';

export class Connection {
  readonly decoder = new FrameDecoder();
  /** true once the client said hello with our protocol version */
  greeted = false;
  /** a -r viewer: its input, resizes, redraws and signals are ignored */
  readOnly = false;
  /** Input from this client waiting for the program to take what it was sent before. */
  readonly heldInput = new ByteQueue();
  helloTimer: NodeJS.Timeout | undefined;

  constructor(readonly socket: net.Socket) {}
}
