// A small "browser" for HTTP-level tests: a real cookie jar (tough-cookie, so
// Domain/Path/SameSite rules apply as in a browser), manual redirects, and
// hostnames of the test domain (*.gatehouse.test) resolved to 127.0.0.1 the way
// Chromium's --host-resolver-rules does in the browser tests.
import { CookieJar } from "tough-cookie";
import { Agent, type Dispatcher, fetch as undiciFetch } from "undici";

const loopback: Dispatcher = new Agent({
  connect: {
    lookup: (_host, opts, cb) => {
      if ((opts as { all?: boolean }).all) cb(null, [{ address: "127.0.0.1", family: 4 }]);
      else (cb as unknown as (e: null, a: string, f: number) => void)(null, "127.0.0.1", 4);
    },
  },
});

export interface BrowserResponse {
  status: number;
  headers: Headers;
  url: string;
  location: string | null;
  setCookies: string[];
  text: string;
  json<T = unknown>(): T;
}

export class Browser {
  readonly jar = new CookieJar();
  readonly history: BrowserResponse[] = [];

  async request(
    url: string,
    init: {
      method?: string;
      headers?: Record<string, string>;
      body?: string;
      json?: unknown;
      form?: Record<string, string>;
    } = {},
  ): Promise<BrowserResponse> {
    const headers: Record<string, string> = { "user-agent": "gatehouse-test-browser", ...init.headers };
    const cookie = await this.jar.getCookieString(url);
    if (cookie) headers.cookie = cookie;
    let body = init.body;
    if (init.json !== undefined) {
      body = JSON.stringify(init.json);
      headers["content-type"] ??= "application/json";
      headers.accept ??= "application/json";
    } else if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers["content-type"] ??= "application/x-www-form-urlencoded";
    }
    const r = await undiciFetch(url, {
      method: init.method ?? (body === undefined ? "GET" : "POST"),
      headers,
      ...(body !== undefined ? { body } : {}),
      redirect: "manual",
      dispatcher: loopback,
    });
    const setCookies = r.headers.getSetCookie();
    for (const sc of setCookies) await this.jar.setCookie(sc, url, { ignoreError: false });
    const text = await r.text();
    const res: BrowserResponse = {
      status: r.status,
      headers: r.headers as unknown as Headers,
      url,
      location: r.headers.get("location") ? new URL(r.headers.get("location") ?? "", url).toString() : null,
      setCookies,
      text,
      json<T>() {
        return JSON.parse(text) as T;
      },
    };
    this.history.push(res);
    return res;
  }

  /** Follows redirects like a browser GET navigation; returns the final response and the chain. */
  async navigate(url: string, maxHops = 10): Promise<{ final: BrowserResponse; chain: string[] }> {
    const chain: string[] = [url];
    let res = await this.request(url);
    while (res.location && res.status >= 300 && res.status < 400 && chain.length <= maxHops) {
      chain.push(res.location);
      // The UI pages of the frontend do not run in this suite; stop at them.
      if (!isKratosUrl(res.location)) break;
      res = await this.request(res.location);
    }
    return { final: res, chain };
  }

  async cookie(url: string, name: string) {
    return (await this.jar.getCookies(url)).find((c) => c.key === name);
  }
}

let kratosBrowserOrigin = "";
export function setKratosBrowserOrigin(origin: string): void {
  kratosBrowserOrigin = new URL(origin).origin;
}
function isKratosUrl(u: string): boolean {
  return kratosBrowserOrigin !== "" && new URL(u).origin === kratosBrowserOrigin;
}
