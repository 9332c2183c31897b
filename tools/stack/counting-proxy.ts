// An HTTP passthrough (keep-alive both ways) that counts the requests it forwards
// whose path starts with a prefix: put in front of Kratos it counts whoami calls,
// in front of the auth-service token exchanges. Used by the tests and by bench/.
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface CountingProxy {
  url: string;
  /** Requests forwarded so far whose path starts with the prefix. */
  readonly count: number;
  close(): void;
}

export async function countingProxy(target: string, prefix: string, port = 0): Promise<CountingProxy> {
  const up = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let count = 0;
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith(prefix)) count++;
    const fwd = http.request(
      { host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers, agent },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    fwd.on("error", () => res.destroy());
    req.pipe(fwd);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((r, rej) => server.listen(port, "127.0.0.1", r).once("error", rej));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get count() {
      return count;
    },
    close() {
      agent.destroy();
      server.closeAllConnections();
      server.close();
    },
  };
}
