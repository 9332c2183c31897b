// Hands an allowed websocket upgrade to its upstream and splices the two sockets.
// As in forward.ts, nothing here may throw out of an event handler: an upstream
// that refuses, resets or never answers ends this one client socket, with a JSON
// status line when nothing was written yet.
import { request as httpRequest, type IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { type ErrorCode, type ErrorStatus, errorBody } from "@gatehouse/contracts";
import { forwardableHeaders } from "./forward.ts";

export interface UpgradeCall {
  origin: URL;
  path: string;
  /** The client's headers as forwarded (hop-by-hop removed); Connection/Upgrade are added here. */
  headers: string[];
  timeoutMs: number;
}

/** An HTTP/1.1 status line and headers, written straight to a socket (the head of an upgrade answer). */
export function rawHead(status: number, reason: string, headers: readonly string[]): string {
  let head = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (let i = 0; i + 1 < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n`;
}

/** A JSON error answer on a socket that is not (or no longer) an HTTP response, then close. */
export function refuseSocket<C extends ErrorCode>(
  socket: Socket,
  status: ErrorStatus<C>,
  error: C,
  message: string,
  requestId: string,
): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = errorBody(error, message, requestId);
  socket.end(
    rawHead(status, error, [
      "Content-Type",
      "application/json; charset=utf-8",
      "Content-Length",
      String(Buffer.byteLength(body)),
      "Connection",
      "close",
    ]) + body,
  );
}

export function forwardUpgrade(
  client: Socket,
  head: Buffer,
  call: UpgradeCall,
  requestId: string,
  onError: (error: Error) => void,
): void {
  let answered = false;
  const up = httpRequest({
    protocol: call.origin.protocol,
    hostname: call.origin.hostname,
    port: call.origin.port,
    method: "GET",
    path: call.path,
    headers: [...call.headers, "Connection", "Upgrade", "Upgrade", "websocket"] as unknown as Record<string, string>,
  });
  up.setTimeout(call.timeoutMs, () => up.destroy(new Error(`no answer within ${call.timeoutMs} ms`)));
  client.on("error", () => up.destroy());
  client.on("close", () => up.destroy());

  up.on("upgrade", (res: IncomingMessage, upSocket: Socket, upHead: Buffer) => {
    answered = true;
    upSocket.setTimeout(0);
    upSocket.on("error", () => client.destroy());
    client.on("error", () => upSocket.destroy());
    upSocket.on("close", () => client.destroy());
    client.on("close", () => upSocket.destroy());
    if (!client.writable) {
      upSocket.destroy();
      return;
    }
    client.write(rawHead(101, "Switching Protocols", res.rawHeaders));
    if (upHead.length > 0) client.write(upHead);
    if (head.length > 0) upSocket.write(head);
    upSocket.pipe(client);
    client.pipe(upSocket);
  });
  // The upstream answered without switching protocols: relay that answer, then close.
  up.on("response", (res: IncomingMessage) => {
    answered = true;
    if (!client.writable) {
      res.resume();
      return;
    }
    // Its framing is not ours to copy (the body arrives de-chunked): a length or the close ends it.
    const headers = [...forwardableHeaders(res), "Connection", "close"];
    client.write(rawHead(res.statusCode ?? 502, res.statusMessage ?? "", headers));
    res.on("error", () => client.destroy());
    res.pipe(client);
  });
  up.on("error", (error) => {
    onError(error);
    if (!answered) refuseSocket(client, 502, "bad_gateway", "the upstream could not be reached", requestId);
    else client.destroy();
  });
  try {
    up.end();
  } catch (error) {
    up.destroy(error as Error);
  }
}
