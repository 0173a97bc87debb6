/**
 * A smart-HTTP Git remote for e2e scenarios: `git http-backend` as a CGI
 * program behind `Deno.serve` on 127.0.0.1. It runs INSIDE the guest (the
 * guest has a private network, so a host-side server is out of reach), with
 * the Deno runtime of the mounted package:
 *
 *   deno run --allow-net=127.0.0.1 --allow-run=git --allow-env git-http-server.ts PORT ROOT
 *
 * serves every bare repository under ROOT as http://127.0.0.1:PORT/<name>.git.
 *
 * @module
 */

const HEADER_END = [13, 10, 13, 10];

/** Where the CGI headers end in `bytes` (`\r\n\r\n` or `\n\n`), and how long the separator is. */
function headerEnd(bytes: Uint8Array): { at: number; length: number } {
  for (let i = 0; i < bytes.length; i++) {
    if (HEADER_END.every((b, j) => bytes[i + j] === b)) return { at: i, length: 4 };
    if (bytes[i] === 10 && bytes[i + 1] === 10) return { at: i, length: 2 };
  }
  return { at: bytes.length, length: 0 };
}

/** Runs `git http-backend` for one request and turns its CGI output into a response. */
async function handle(request: Request, root: string): Promise<Response> {
  const url = new URL(request.url);
  const body = new Uint8Array(await request.arrayBuffer());
  const child = new Deno.Command("git", {
    args: ["http-backend"],
    clearEnv: true,
    env: {
      PATH: "/usr/bin:/bin",
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: "1",
      REQUEST_METHOD: request.method,
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: request.headers.get("content-type") ?? "",
      CONTENT_LENGTH: String(body.length),
      HTTP_CONTENT_ENCODING: request.headers.get("content-encoding") ?? "",
      GIT_PROTOCOL: request.headers.get("git-protocol") ?? "",
      REMOTE_ADDR: "127.0.0.1",
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(body);
  await writer.close();
  const out = await child.output();
  const { at, length } = headerEnd(out.stdout);
  const headers = new Headers();
  let status = 200;
  for (const line of new TextDecoder().decode(out.stdout.subarray(0, at)).split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === "status") status = Number.parseInt(value, 10);
    else headers.append(name, value);
  }
  if (!out.success && status === 200) status = 500;
  return new Response(out.stdout.subarray(at + length), { status, headers });
}

if (import.meta.main) {
  const [port, root] = Deno.args;
  if (!port || !root) throw new Error("usage: git-http-server.ts PORT ROOT");
  Deno.serve(
    { hostname: "127.0.0.1", port: Number(port), onListen: () => {} },
    (request) => handle(request, root),
  );
}
