// Malformed and hostile raw HTTP requests, by class: trailers and hop-by-hop
// headers, bad chunking, invalid bytes, absurd lengths, request-line oddities,
// clients that close early, upgrade oddities, pipelining. Each is sent to every
// listener of every service; none may end the process that receives it.
import type { RawCase } from "./raw.ts";

const CRLF = "\r\n";

/** The corpus, aimed at `path` on a server reached as `host`. */
export function malformedRequests(host: string, path: string): RawCase[] {
  const h = `Host: ${host}${CRLF}`;
  const get = (extra: string, p = path) => `GET ${p} HTTP/1.1${CRLF}${h}${extra}${CRLF}`;
  const post = (extra: string, body = "", p = path) => `POST ${p} HTTP/1.1${CRLF}${h}${extra}${CRLF}${body}`;
  const cases: RawCase[] = [];
  const add = (name: string, ...parts: RawCase["parts"]) => cases.push({ name, parts });
  const addClose = (name: string, ...parts: RawCase["parts"]) => cases.push({ name, parts, closeAfterWrite: true });

  // --- trailers and hop-by-hop headers ------------------------------------------------
  add("trailer on a GET", get(`Trailer: X-T${CRLF}`));
  add("trailer naming content-length", get(`Trailer: Content-Length${CRLF}`));
  add("two trailer headers", get(`Trailer: X-A${CRLF}Trailer: X-B${CRLF}`));
  add("trailer on a POST with a length", post(`Trailer: X-T${CRLF}Content-Length: 2${CRLF}`, "{}"));
  add(
    "trailer on a chunked POST, with trailers",
    post(`Trailer: X-T${CRLF}Transfer-Encoding: chunked${CRLF}`, `2${CRLF}{}${CRLF}0${CRLF}X-T: 1${CRLF}${CRLF}`),
  );
  add("TE: trailers", get(`TE: trailers${CRLF}`));
  add("TE: gzip, chunked", get(`TE: gzip, chunked${CRLF}`));
  add("Connection naming a header", get(`Connection: keep-alive, X-Foo, Authorization${CRLF}X-Foo: 1${CRLF}`));
  add("Connection naming Host", get(`Connection: Host${CRLF}`));
  add("Keep-Alive parameters", get(`Keep-Alive: timeout=1, max=-1${CRLF}`));
  add("Proxy-Connection", get(`Proxy-Connection: keep-alive${CRLF}`));
  add("Expect: 100-continue", post(`Expect: 100-continue${CRLF}Content-Length: 2${CRLF}`, "{}"));
  add("Expect: garbage", post(`Expect: 42-fish${CRLF}Content-Length: 2${CRLF}`, "{}"));

  // --- chunking ----------------------------------------------------------------------
  const chunked = (body: string, extra = "") => post(`Transfer-Encoding: chunked${CRLF}${extra}`, body);
  add("chunk size not hex", chunked(`zz${CRLF}abc${CRLF}0${CRLF}${CRLF}`));
  add("chunk size overflow", chunked(`ffffffffffffffffffff${CRLF}abc${CRLF}0${CRLF}${CRLF}`));
  add("negative chunk size", chunked(`-1${CRLF}a${CRLF}0${CRLF}${CRLF}`));
  add("chunk without CRLF after data", chunked(`3${CRLF}abcdef${CRLF}0${CRLF}${CRLF}`));
  add("huge chunk extension", chunked(`3;${"x".repeat(20_000)}${CRLF}abc${CRLF}0${CRLF}${CRLF}`));
  add("bare LF chunking", chunked(`3\nabc\n0\n\n`));
  add("chunked and content-length", chunked(`3${CRLF}abc${CRLF}0${CRLF}${CRLF}`, `Content-Length: 3${CRLF}`));
  add("chunked twice", chunked(`3${CRLF}abc${CRLF}0${CRLF}${CRLF}`, `Transfer-Encoding: chunked${CRLF}`));
  add("gzip, chunked", post(`Transfer-Encoding: gzip, chunked${CRLF}`, `3${CRLF}abc${CRLF}0${CRLF}${CRLF}`));
  add("chunked, identity", post(`Transfer-Encoding: chunked, identity${CRLF}`, `3${CRLF}abc${CRLF}0${CRLF}${CRLF}`));
  add("Transfer-Encoding: xchunked", post(`Transfer-Encoding: xchunked${CRLF}`, `3${CRLF}abc${CRLF}0${CRLF}${CRLF}`));
  add(
    "Transfer-Encoding with a space before the colon",
    post(`Transfer-Encoding : chunked${CRLF}`, `3${CRLF}abc${CRLF}0${CRLF}${CRLF}`),
  );
  add("chunked body on a GET", `${get(`Transfer-Encoding: chunked${CRLF}`)}3${CRLF}abc${CRLF}0${CRLF}${CRLF}`);
  add("smuggled request after a chunked body", chunked(`0${CRLF}${CRLF}GET /admin HTTP/1.1${CRLF}${h}${CRLF}`));

  // --- lengths -----------------------------------------------------------------------
  add("content-length overflow", post(`Content-Length: 99999999999999999999${CRLF}`, "{}"));
  add("negative content-length", post(`Content-Length: -1${CRLF}`, "{}"));
  add("content-length 1e3", post(`Content-Length: 1e3${CRLF}`, "{}"));
  add("two content-lengths", post(`Content-Length: 2${CRLF}Content-Length: 5${CRLF}`, "{}"));
  add("content-length list", post(`Content-Length: 2, 2${CRLF}`, "{}"));
  add(
    "content-length larger than the body",
    post(`Content-Length: 10000000${CRLF}Content-Type: application/json${CRLF}`, "{"),
  );
  add("content-length on a GET", `${get(`Content-Length: 5${CRLF}`)}hello`);
  add("huge header", get(`X-Big: ${"a".repeat(70_000)}${CRLF}`));
  add("10,000 headers", get(`X-A: 1${CRLF}`.repeat(10_000)));
  add("huge URL", `GET ${path}?q=${"a".repeat(100_000)} HTTP/1.1${CRLF}${h}${CRLF}`);
  add("huge cookie", get(`Cookie: ${"a=b; ".repeat(5_000)}${CRLF}`));
  add("huge method", `${"A".repeat(5_000)} ${path} HTTP/1.1${CRLF}${h}${CRLF}`);
  add("huge JWT", get(`Authorization: Bearer ${"a".repeat(20_000)}.${"b".repeat(20_000)}.c${CRLF}`));
  add("huge session token", get(`X-Session-Token: ory_st_${"x".repeat(7_000)}${CRLF}`));

  // --- invalid bytes -------------------------------------------------------------------
  add("NUL in a header value", get(`X-A: a\x00b${CRLF}`));
  add("CR alone in a header value", get(`X-A: a\rb${CRLF}`));
  add("DEL in a header name", get(`X-\x7fA: 1${CRLF}`));
  add("space in a header name", get(`X A: 1${CRLF}`));
  add("header without a colon", get(`X-A${CRLF}`));
  add("obsolete line folding", get(`X-A: 1${CRLF} continued${CRLF}`));
  add("non-ASCII header value", get(`X-A: ${Buffer.from("żółw", "utf8").toString("latin1")}${CRLF}`));
  add("non-ASCII in the path", `GET ${path}/\xff\xfe HTTP/1.1${CRLF}${h}${CRLF}`);
  add("bare LF line endings", `GET ${path} HTTP/1.1\nHost: ${host}\n\n`);
  add("bad percent-encoding", `GET ${path}/%zz%%%00 HTTP/1.1${CRLF}${h}${CRLF}`);
  add("encoded NUL and slash", `GET ${path}/%00/..%2f..%2fetc HTTP/1.1${CRLF}${h}${CRLF}`);
  add("invalid cookie bytes", get(`Cookie: ory_kratos_session=\x01\x02"; a=${"\\".repeat(10)}${CRLF}`));
  add("garbage Authorization", get(`Authorization: Bearer \x01\x7f${CRLF}`));
  add("two Authorization headers", get(`Authorization: Bearer a.b.c${CRLF}Authorization: Bearer d.e.f${CRLF}`));
  add("Host missing", `GET ${path} HTTP/1.1${CRLF}${CRLF}`);
  add("two Host headers", get(`Host: evil.example${CRLF}`));
  add("Host with a path", `GET ${path} HTTP/1.1${CRLF}Host: a/b?c${CRLF}${CRLF}`);
  add("Host with userinfo", `GET ${path} HTTP/1.1${CRLF}Host: user@evil.example${CRLF}${CRLF}`);
  add("X-Request-Id with control bytes", get(`X-Request-Id: \x01\x02${CRLF}`));
  add("X-Request-Id very long", get(`X-Request-Id: ${"r".repeat(8_000)}${CRLF}`));

  // --- request lines ----------------------------------------------------------------------
  add("HTTP/0.9", `GET ${path}${CRLF}`);
  add("HTTP/2.0 version", `GET ${path} HTTP/2.0${CRLF}${h}${CRLF}`);
  add("HTTP/1.0 without Host", `GET ${path} HTTP/1.0${CRLF}${CRLF}`);
  add("HTTP/9.9", `GET ${path} HTTP/9.9${CRLF}${h}${CRLF}`);
  add("absolute-form target", `GET http://evil.example${path} HTTP/1.1${CRLF}${h}${CRLF}`);
  add("asterisk target", `OPTIONS * HTTP/1.1${CRLF}${h}${CRLF}`);
  add("CONNECT", `CONNECT evil.example:443 HTTP/1.1${CRLF}Host: evil.example:443${CRLF}${CRLF}`);
  add("unknown method", `BREW ${path} HTTP/1.1${CRLF}${h}${CRLF}`);
  add("lower-case method", `get ${path} HTTP/1.1${CRLF}${h}${CRLF}`);
  add("double space in the request line", `GET  ${path}  HTTP/1.1${CRLF}${h}${CRLF}`);
  add("HTTP/2 preface", `PRI * HTTP/2.0${CRLF}${CRLF}SM${CRLF}${CRLF}`);
  add("TLS ClientHello", Buffer.from("16030100a5010000a10303", "hex"));
  add("empty lines only", `${CRLF}${CRLF}${CRLF}`);
  add("binary noise", Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37) % 256)));
  add(
    "method override headers",
    post(
      `X-HTTP-Method-Override: DELETE${CRLF}X-Original-URL: /admin${CRLF}X-Rewrite-URL: /admin${CRLF}Content-Length: 0${CRLF}`,
    ),
  );

  // --- clients that go away ----------------------------------------------------------------
  addClose("close after the request line", `GET ${path} HTTP/1.1${CRLF}`);
  addClose("close mid-headers", `GET ${path} HTTP/1.1${CRLF}${h}X-A: `);
  addClose(
    "close mid-body (length)",
    post(`Content-Length: 1000${CRLF}Content-Type: application/json${CRLF}`, `{"a":"`),
  );
  addClose("close mid-body (chunked)", chunked(`100${CRLF}abc`));
  addClose("close after the body", post(`Content-Length: 2${CRLF}Content-Type: application/json${CRLF}`, "{}"));
  add("slow body, then close", post(`Content-Length: 10${CRLF}`, "ab"), 300, "cd");
  add("pause mid-headers", `GET ${path} HTTP/1.1${CRLF}`, 200, `${h}${CRLF}`);

  // --- upgrades --------------------------------------------------------------------------
  add(
    "websocket upgrade on a plain route",
    get(
      `Connection: Upgrade${CRLF}Upgrade: websocket${CRLF}Sec-WebSocket-Version: 13${CRLF}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==${CRLF}`,
    ),
  );
  add(
    "h2c upgrade",
    get(`Connection: Upgrade, HTTP2-Settings${CRLF}Upgrade: h2c${CRLF}HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA${CRLF}`),
  );
  add("upgrade without Connection", get(`Upgrade: websocket${CRLF}`));
  add("Connection: upgrade without Upgrade", get(`Connection: upgrade${CRLF}`));
  add(
    "upgrade with a body",
    post(`Connection: Upgrade${CRLF}Upgrade: websocket${CRLF}Content-Length: 5${CRLF}`, "hello"),
  );
  add(
    "upgrade with garbage after",
    `${get(`Connection: Upgrade${CRLF}Upgrade: websocket${CRLF}Sec-WebSocket-Key: x${CRLF}`)}\x00\xff garbage`,
  );
  addClose(
    "upgrade, then close at once",
    get(`Connection: Upgrade${CRLF}Upgrade: websocket${CRLF}Sec-WebSocket-Key: x${CRLF}`),
  );
  add("upgrade to an unknown protocol", get(`Connection: Upgrade${CRLF}Upgrade: IRC/6.9${CRLF}`));

  // --- pipelining -------------------------------------------------------------------------
  add("ten pipelined requests", get("").repeat(10));
  add("pipelined request after a malformed one", `${get(`X-A: a\x00b${CRLF}`)}${get("")}`);
  add("pipelined trailers", get(`Trailer: X-T${CRLF}`).repeat(3));
  return cases;
}

/** Requests that make an upstream misbehave (see misbehavingUpstream), through a proxying listener. */
export function upstreamMisbehaviour(host: string, prefix: string): RawCase[] {
  return [
    "trailer",
    "trailer-chunked",
    "half-body",
    "half-chunk",
    "chunk-size",
    "reset",
    "close",
    "garbage",
    "huge-headers",
    "double-length",
    "length-and-chunked",
    "switching",
    "early-hints",
    "connection-listed",
    "invalid-header",
    "status",
    "stall",
  ].flatMap((what) => [
    { name: `upstream ${what}`, parts: [`GET ${prefix}/${what} HTTP/1.1\r\nHost: ${host}\r\n\r\n`] },
    {
      name: `upstream ${what}, client gone`,
      parts: [`GET ${prefix}/${what} HTTP/1.1\r\nHost: ${host}\r\n\r\n`, 5],
      closeAfterWrite: true,
    },
    {
      name: `upstream ${what}, POST with a trailer`,
      parts: [
        `POST ${prefix}/${what} HTTP/1.1\r\nHost: ${host}\r\nTrailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: 1\r\n\r\n`,
      ],
    },
  ]);
}
