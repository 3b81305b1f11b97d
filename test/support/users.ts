import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { TestApp } from './app.js';

/** Test users for AUTH_FILE: each token is `<name>-token-0123456789abcdef`; the file holds only its sha256. */
export interface TestUser {
  name: string;
  role: 'admin' | 'operator' | 'auditor' | 'viewer';
  projects: string[] | 'all';
}

export const tokenOf = (name: string): string => `${name}-token-0123456789abcdef`;

export function writeAuthFile(dir: string, users: TestUser[]): string {
  const file = join(dir, 'users.json');
  const body = {
    users: users.map((u) => ({
      ...u,
      tokenSha256: createHash('sha256').update(tokenOf(u.name)).digest('hex'),
    })),
  };
  writeFileSync(file, JSON.stringify(body, null, 2));
  return file;
}

/** supertest calls as an AUTH_FILE user. */
export function asUser(t: TestApp, name: string) {
  const auth = `Bearer ${tokenOf(name)}`;
  const server = t.app.getHttpServer();
  return {
    get: (path: string) => request(server).get(path).set('Authorization', auth),
    post: (path: string, body?: object) =>
      request(server)
        .post(path)
        .set('Authorization', auth)
        .send(body ?? {}),
    patch: (path: string, body?: object) =>
      request(server)
        .patch(path)
        .set('Authorization', auth)
        .send(body ?? {}),
    delete: (path: string) => request(server).delete(path).set('Authorization', auth),
  };
}

/** A second listener over the app, for raw SSE connections held open by tests. */
export async function rawListener(t: TestApp): Promise<{ port: number; close: () => Promise<void> }> {
  const server: Server = createServer(t.app.getHttpAdapter().getInstance());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
