/** The webhook's HTTP/1.1 request parser (src/host/http_request.ts): pure, total, strict. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Limits, parseRequest, responseBytes } from "../../src/host/http_request.ts";

const LIMITS: Limits = { maxHead: 1024, maxBody: 64, methods: ["POST"] };
const bytes = (text: string) => new TextEncoder().encode(text);
const parse = (text: string) => parseRequest(bytes(text), LIMITS);

Deno.test("http: a complete POST with a body; header names lower-case, repeats kept", () => {
  const parsed = parse(
    "POST /hook?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX-A: 1\r\nx-a:  2 \r\n\r\nhello",
  );
  assert.equal(parsed.kind, "complete");
  if (parsed.kind !== "complete") return;
  assert.equal(parsed.request.method, "POST");
  assert.equal(parsed.request.target, "/hook?x=1");
  assert.deepEqual(parsed.request.headers.get("x-a"), ["1", "2"]);
  assert.equal(new TextDecoder().decode(parsed.request.body), "hello");
});

Deno.test("http: bare LF line ends are accepted; no Content-Length is an empty body", () => {
  const parsed = parse("POST / HTTP/1.1\nHost: a\n\n");
  assert.equal(parsed.kind, "complete");
  if (parsed.kind === "complete") assert.equal(parsed.request.body.length, 0);
});

Deno.test("http: incomplete until the head and the whole body are in; Expect: 100-continue", () => {
  const head = "POST / HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n";
  assert.deepEqual(parse("POST / HTTP/1.1\r\nContent-"), {
    kind: "incomplete",
    expectContinue: false,
  });
  assert.deepEqual(parse(head), { kind: "incomplete", expectContinue: true });
  assert.deepEqual(parse(`${head}ab`), { kind: "incomplete", expectContinue: false });
  assert.equal(parse(`${head}abcd`).kind, "complete");
});

Deno.test("http: what is refused, with which status", () => {
  const cases: [string, number][] = [
    ["GET / HTTP/1.1\r\n\r\n", 405],
    ["PUT / HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n", 405],
    ["POST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n", 413],
    ["POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400],
    ["POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400],
    ["POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400],
    ["POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411],
    ["POST / HTTP/2.0\r\n\r\n", 505],
    ["POST /  HTTP/1.1\r\n\r\n", 400],
    ["POST / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400],
    ["POST / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", 400],
    ["POST / HTTP/1.1\r\nX: a\x00b\r\n\r\n", 400],
    ["POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nab", 400],
    [`POST / HTTP/1.1\r\nX: ${"a".repeat(2000)}`, 431],
  ];
  for (const [text, status] of cases) {
    const parsed = parse(text);
    assert.equal(parsed.kind, "invalid", JSON.stringify(text));
    if (parsed.kind === "invalid") assert.equal(parsed.status, status, JSON.stringify(text));
  }
  // The same Content-Length twice is one length.
  assert.equal(
    parse("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab").kind,
    "complete",
  );
});

Deno.test("http: never throws, and never accepts more than the limits, on arbitrary bytes", () => {
  const prefix = fc.constantFrom(
    "",
    "POST / HTTP/1.1\r\n",
    "POST / HTTP/1.1\r\nContent-Length: 3\r\n",
  );
  const noise = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.string({ maxLength: 200 }).map(bytes),
    fc.array(
      fc.constantFrom("\r\n", "\n", ":", " ", "Content-Length: 2", "a", "\r\n\r\n", "\x00", "é"),
    )
      .map((parts) => bytes(parts.join(""))),
  );
  fc.assert(
    fc.property(prefix, noise, (p, n) => {
      const input = new Uint8Array([...bytes(p), ...n]);
      const parsed = parseRequest(input, LIMITS);
      if (parsed.kind === "complete") {
        assert.equal(parsed.request.method, "POST");
        assert.ok(parsed.request.body.length <= LIMITS.maxBody);
      }
      if (parsed.kind === "invalid") assert.ok(parsed.status >= 400 && parsed.status < 600);
    }),
    { numRuns: 3000 },
  );
});

Deno.test("http: a response is a complete HTTP/1.1 message that closes the connection", () => {
  const text = new TextDecoder().decode(responseBytes(405, "method not allowed", ["POST"]));
  assert.equal(
    text,
    "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\n" +
      "Content-Length: 19\r\nConnection: close\r\nAllow: POST\r\n\r\nmethod not allowed\n",
  );
});
