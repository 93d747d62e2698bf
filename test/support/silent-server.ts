import { createServer, type Socket } from 'node:net';

/** A TCP server on loopback that accepts every connection and never sends a byte. */
export interface SilentServer {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  /** Connections accepted so far. */
  connections(): number;
  /** Resolves once at least `count` connections were accepted. */
  connected(count?: number, timeoutMs?: number): Promise<void>;
  /** Closes the server and every connection it holds. */
  close(): Promise<void>;
}

/** Starts a `SilentServer`: an endpoint that a client reaches and that never answers. */
export async function startSilentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the silent server has no port');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    port: address.port,
    connections: () => accepted,
    async connected(count = 1, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (accepted < count) {
        if (Date.now() > deadline)
          throw new Error(`no connection reached the silent server in ${timeoutMs} ms`);
        await new Promise((done) => setTimeout(done, 20));
      }
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((closed) => server.close(() => closed()));
    },
  };
}

/** A loopback port nothing listens on (bound, then released): connections to it are refused. */
export async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const address = server.address();
  await new Promise<void>((closed) => server.close(() => closed()));
  if (address === null || typeof address === 'string') throw new Error('no port was bound');
  return address.port;
}
