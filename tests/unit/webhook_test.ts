/**
 * `core-ops webhook`'s answers (src/run/webhook.ts) over an in-memory
 * connection: signatures (GitHub/Gitea HMAC, GitLab token), the tracked ref,
 * and the HTTP refusals; the trigger is set only for an authentic push to it.
 */
import assert from "node:assert/strict";
import type { Connection } from "../../src/host/stdio_http.ts";
import { equalInConstantTime, serveWebhook, trackedRefs } from "../../src/run/webhook.ts";

const SECRET = new TextEncoder().encode("s3cret-webhook");
const encode = (text: string) => new TextEncoder().encode(text);

/** A connection that delivers `chunks` (then EOF, or nothing more when `hang`) and records writes. */
function memoryConnection(chunks: Uint8Array[], hang = false) {
  const written: Uint8Array[] = [];
  const queue = [...chunks];
  const conn: Connection = {
    read(buffer) {
      const next = queue.shift();
      if (next === undefined) {
        return hang ? new Promise(() => {}) : Promise.resolve(null);
      }
      buffer.set(next);
      return Promise.resolve(next.length);
    },
    write(bytes) {
      written.push(bytes.slice());
      return Promise.resolve(bytes.length);
    },
  };
  return { conn, output: () => written.map((b) => new TextDecoder().decode(b)).join("") };
}

async function sign(body: Uint8Array, secret = SECRET): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    secret,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new Uint8Array(body)));
  return `sha256=${[...mac].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function request(body: string, headers: Record<string, string>, method = "POST"): Uint8Array {
  const bytes = encode(body);
  const lines = [`${method} /any/path HTTP/1.1`, "Host: h", `Content-Length: ${bytes.length}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return new Uint8Array([...encode(`${lines.join("\r\n")}\r\n\r\n`), ...bytes]);
}

async function serve(chunks: Uint8Array[], opts: { hang?: boolean; readMs?: number } = {}) {
  const { conn, output } = memoryConnection(chunks, opts.hang);
  let triggers = 0;
  const answer = await serveWebhook(conn, SECRET, "main", () => {
    triggers++;
    return Promise.resolve();
  }, opts.readMs);
  return { answer, triggers, response: output() };
}

const PUSH_MAIN = JSON.stringify({ ref: "refs/heads/main", after: "abc" });

Deno.test("webhook: a GitHub/Gitea-signed push to the tracked ref triggers and answers 202", async () => {
  const r = await serve([
    request(PUSH_MAIN, { "X-Hub-Signature-256": await sign(encode(PUSH_MAIN)) }),
  ]);
  assert.equal(r.answer.status, 202);
  assert.equal(r.triggers, 1);
  assert.match(r.response, /^HTTP\/1\.1 202 Accepted\r\n/);
  assert.match(r.response, /agent run triggered\n$/);
});

Deno.test("webhook: a GitLab token push triggers; the request arriving in pieces is one request", async () => {
  const bytes = request(PUSH_MAIN, { "X-Gitlab-Token": "s3cret-webhook" });
  const r = await serve([bytes.subarray(0, 10), bytes.subarray(10, 80), bytes.subarray(80)]);
  assert.equal(r.answer.status, 202);
  assert.equal(r.triggers, 1);
});

Deno.test("webhook: bad or missing signatures are 401 and trigger nothing; the secret is never echoed", async () => {
  const body = encode(PUSH_MAIN);
  const cases: Record<string, string>[] = [
    {},
    { "X-Hub-Signature-256": await sign(body, encode("other")) },
    { "X-Hub-Signature-256": (await sign(body)).replace("sha256=", "sha1=") },
    { "X-Hub-Signature-256": "sha256=zz" },
    { "X-Gitlab-Token": "s3cret-webhoo" },
    { "X-Gitlab-Token": "s3cret-webhook2" },
    { "X-Gitlab-Token": "" },
  ];
  for (const headers of cases) {
    const r = await serve([request(PUSH_MAIN, headers)]);
    assert.equal(r.answer.status, 401, JSON.stringify(headers));
    assert.equal(r.triggers, 0);
    assert.ok(!r.response.includes("s3cret"), r.response);
    assert.ok(!r.answer.message.includes("refs/heads"), "the body is not echoed");
  }
  // A signature over another body is no signature for this one.
  const r = await serve([
    request(PUSH_MAIN, { "X-Hub-Signature-256": await sign(encode(PUSH_MAIN + " ")) }),
  ]);
  assert.equal(r.answer.status, 401);
});

Deno.test("webhook: a push to another ref is 202 and triggers nothing; malformed bodies are 400", async () => {
  const other = JSON.stringify({ ref: "refs/heads/feature" });
  let r = await serve([request(other, { "X-Gitlab-Token": "s3cret-webhook" })]);
  assert.deepEqual([r.answer.status, r.triggers], [202, 0]);
  for (const body of ["not json", "[1]", "{}", '{"ref": 1}', "\xff"]) {
    r = await serve([request(body, { "X-Gitlab-Token": "s3cret-webhook" })]);
    assert.deepEqual([r.answer.status, r.triggers], [400, 0], body);
  }
  r = await serve([
    request("{}", { "X-Gitlab-Token": "s3cret-webhook", "X-GitHub-Event": "ping" }),
  ]);
  assert.deepEqual([r.answer.status, r.triggers], [200, 0]);
});

Deno.test("webhook: 405, 413 (before the body is read), 408, 400 — none triggers", async () => {
  let r = await serve([request(PUSH_MAIN, { "X-Gitlab-Token": "s3cret-webhook" }, "GET")]);
  assert.deepEqual([r.answer.status, r.triggers], [405, 0]);
  assert.match(r.response, /\r\nAllow: POST\r\n/);
  r = await serve([encode("POST / HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n")], { hang: true });
  assert.deepEqual([r.answer.status, r.triggers], [413, 0]);
  r = await serve([encode("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")], {
    hang: true,
    readMs: 50,
  });
  assert.deepEqual([r.answer.status, r.triggers], [408, 0]);
  r = await serve([encode("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")]);
  assert.deepEqual([r.answer.status, r.triggers], [400, 0]);
});

Deno.test("webhook: Expect: 100-continue is answered before the body is sent", async () => {
  const body = encode(PUSH_MAIN);
  const head = encode(
    `POST / HTTP/1.1\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n` +
      `X-Hub-Signature-256: ${await sign(body)}\r\n\r\n`,
  );
  const r = await serve([head, body]);
  assert.match(r.response, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 202 Accepted\r\n/);
  assert.equal(r.triggers, 1);
});

Deno.test("webhook: the refs a rev tracks; constant-time equality is equality", async () => {
  assert.deepEqual(trackedRefs("main"), ["refs/heads/main", "refs/tags/main"]);
  assert.deepEqual(trackedRefs("refs/heads/prod"), ["refs/heads/prod"]);
  assert.equal(await equalInConstantTime(encode("abc"), encode("abc")), true);
  assert.equal(await equalInConstantTime(encode("abc"), encode("abd")), false);
  assert.equal(await equalInConstantTime(encode(""), encode("a")), false);
  assert.equal(await equalInConstantTime(encode(""), encode("")), true);
});
