// A STUB of Kratos' HTTP API (node:http on 127.0.0.1, random port) for faults a
// real Kratos cannot be made to produce on demand: 5xx, 429, hangs, garbage
// bodies, dropped connections. It records every request it receives.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface StubRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export type StubHandler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

export interface StubKratos {
  url: string;
  requests: StubRequest[];
  /** TCP connections accepted so far (to check keep-alive reuse). */
  connections: () => number;
  handle(handler: StubHandler): void;
  close(): Promise<void>;
}

export async function startStubKratos(): Promise<StubKratos> {
  let handler: StubHandler = (_req, res) => {
    res.writeHead(500).end();
  };
  const requests: StubRequest[] = [];
  let connections = 0;
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    handler(req, res, requests.length);
  });
  server.on("connection", () => {
    connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    connections: () => connections,
    handle(h) {
      handler = h;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** A whoami body shaped like Kratos v1.3.1's (captured from the test stack). */
export function sessionBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Date.now();
  const identityId = randomUUID();
  return {
    id: randomUUID(),
    active: true,
    expires_at: new Date(now + 86_400_000).toISOString(),
    authenticated_at: new Date(now - 1000).toISOString(),
    authenticator_assurance_level: "aal1",
    authentication_methods: [{ method: "password", aal: "aal1", completed_at: new Date(now - 1000).toISOString() }],
    issued_at: new Date(now - 1000).toISOString(),
    identity: {
      id: identityId,
      schema_id: "person",
      schema_url: "http://auth.gatehouse.test/schemas/cGVyc29u",
      state: "active",
      traits: { email: "Stub.User@example.org", name: { first: "Stub", last: "User" } },
      verifiable_addresses: [
        { id: randomUUID(), value: "stub.user@example.org", verified: true, via: "email", status: "completed" },
      ],
      metadata_public: null,
    },
    devices: [],
    ...overrides,
  };
}
