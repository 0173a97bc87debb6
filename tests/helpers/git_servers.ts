/**
 * Real git remotes on 127.0.0.1 for the mirror tests: `git http-backend`
 * behind a small Deno HTTP server (optionally demanding Basic credentials), a
 * server that accepts connections and never answers, and a closed port.
 *
 * @module
 */

/** A running test server. */
export interface TestServer {
  /** Base URL, e.g. `http://127.0.0.1:PORT`. */
  base: string;
  /** How many requests were refused for missing or wrong credentials. */
  refused: number;
  close(): Promise<void>;
}

/**
 * Serves every repository under `root` over git's smart HTTP protocol. With
 * `credentials` ("user:token"), requests without exactly those get 401.
 */
export function serveGitHttp(root: string, credentials?: string): TestServer {
  const expected = credentials === undefined ? undefined : `Basic ${btoa(credentials)}`;
  const server: TestServer = { base: "", refused: 0, close: async () => {} };
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      if (expected !== undefined && request.headers.get("authorization") !== expected) {
        server.refused++;
        return new Response("unauthorized\n", {
          status: 401,
          headers: { "www-authenticate": 'Basic realm="test"' },
        });
      }
      const url = new URL(request.url);
      const env: Record<string, string> = {
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: "1",
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: request.method,
        CONTENT_TYPE: request.headers.get("content-type") ?? "",
        REMOTE_ADDR: "127.0.0.1",
      };
      const protocol = request.headers.get("git-protocol");
      if (protocol !== null) env.GIT_PROTOCOL = protocol;
      const encoding = request.headers.get("content-encoding");
      if (encoding !== null) env.HTTP_CONTENT_ENCODING = encoding;
      const child = new Deno.Command("git", {
        args: ["http-backend"],
        env,
        stdin: "piped",
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const body = request.body === null ? child.stdin.close() : request.body.pipeTo(child.stdin);
      const [, out] = await Promise.all([body, child.output()]);
      return cgiResponse(out.stdout);
    },
  );
  server.base = `http://127.0.0.1:${http.addr.port}`;
  server.close = () => http.shutdown();
  return server;
}

/** Splits a CGI response into status, headers and body. */
function cgiResponse(raw: Uint8Array): Response {
  let split = -1;
  for (let i = 0; i + 3 < raw.length; i++) {
    if (raw[i] === 13 && raw[i + 1] === 10 && raw[i + 2] === 13 && raw[i + 3] === 10) {
      split = i;
      break;
    }
  }
  if (split < 0) return new Response("bad CGI output\n", { status: 500 });
  const headers = new Headers();
  let status = 200;
  for (const line of new TextDecoder().decode(raw.subarray(0, split)).split("\r\n")) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === "status") status = Number.parseInt(value, 10);
    else headers.append(name, value);
  }
  return new Response(raw.slice(split + 4), { status, headers });
}

/** A TCP server on 127.0.0.1 that accepts connections and never answers. */
export function serveSilence(): TestServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) held.push(conn);
    } catch {
      // Listener closed.
    }
  })();
  return {
    base: `http://127.0.0.1:${listener.addr.port}`,
    refused: 0,
    async close() {
      listener.close();
      for (const conn of held) conn.close();
      await accepting;
    },
  };
}

/** A 127.0.0.1 port nothing listens on (bound, then closed). */
export function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}
