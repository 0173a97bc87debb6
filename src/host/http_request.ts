/**
 * One HTTP/1.1 request, parsed from the bytes received so far (RFC 9112):
 * what `core-ops webhook` reads on stdin, one connection per process
 * (`Accept=yes`). Pure and total: any input gives a value, never a throw, so
 * a hostile peer can only ever get an error status back.
 *
 * Deliberately small: one request, a body only by `Content-Length` (no
 * chunked encoding — webhook senders give the length), header bytes read as
 * Latin-1 (RFC 9110 §5.5), a head of at most {@link Limits.maxHead} bytes.
 *
 * @module
 */

/** What a request may be. */
export interface Limits {
  /** Longest request line plus headers, in bytes. */
  maxHead: number;
  /** Longest body, in bytes (413 beyond, decided from Content-Length before it is read). */
  maxBody: number;
  /** Methods served (405 for any other, decided from the request line). */
  methods: readonly string[];
}

/** A complete request. Header names are lower-case; repeated headers keep every value. */
export interface HttpRequest {
  method: string;
  target: string;
  headers: ReadonlyMap<string, readonly string[]>;
  body: Uint8Array;
}

/** The parse of the bytes received so far. */
export type Parsed =
  | { kind: "incomplete"; expectContinue: boolean }
  | { kind: "invalid"; status: number; reason: string }
  | { kind: "complete"; request: HttpRequest };

/** A token (RFC 9110 §5.6.2): method and header names. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Field values: visible Latin-1 characters, spaces and tabs; no control characters. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const TARGET = /^[\x21-\x7e]+$/;

/** The one header of a request (the first value), or `undefined`. */
export function header(request: HttpRequest, name: string): string | undefined {
  return request.headers.get(name.toLowerCase())?.[0];
}

/** Parses `bytes` (everything received so far) as one request within `limits`. */
export function parseRequest(bytes: Uint8Array, limits: Limits): Parsed {
  const end = headEnd(bytes, limits.maxHead);
  if (end === null) {
    return bytes.length > limits.maxHead
      ? { kind: "invalid", status: 431, reason: "request head too large" }
      : { kind: "incomplete", expectContinue: false };
  }
  const head = parseHead(latin1(bytes.subarray(0, end.head)), limits);
  if ("status" in head) return { kind: "invalid", ...head };
  const received = bytes.length - end.body;
  if (received < head.length) {
    const expect = head.headers.get("expect")?.[0]?.toLowerCase() === "100-continue";
    return { kind: "incomplete", expectContinue: expect && received === 0 };
  }
  if (received > head.length) {
    // One request per connection: bytes beyond the body are a second request or garbage.
    return { kind: "invalid", status: 400, reason: "data after the request body" };
  }
  return {
    kind: "complete",
    request: {
      method: head.method,
      target: head.target,
      headers: head.headers,
      body: bytes.slice(end.body, end.body + head.length),
    },
  };
}

/** Where the head ends (before the empty line) and the body starts, once both are in. */
function headEnd(bytes: Uint8Array, maxHead: number): { head: number; body: number } | null {
  // Bare LF line ends are accepted as RFC 9112 §2.2 allows; so CRLF CRLF, LF LF and mixes.
  const limit = Math.min(bytes.length, maxHead + 4);
  for (let i = 0; i < limit; i++) {
    if (bytes[i] !== 0x0a) continue;
    const next = i + 1;
    if (bytes[next] === 0x0a) return { head: i, body: next + 1 };
    if (bytes[next] === 0x0d && bytes[next + 1] === 0x0a) return { head: i, body: next + 2 };
  }
  return null;
}

interface Head {
  method: string;
  target: string;
  headers: Map<string, string[]>;
  length: number;
}

function parseHead(text: string, limits: Limits): Head | { status: number; reason: string } {
  const lines = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  const [requestLine, ...fieldLines] = lines;
  const parts = requestLine.split(" ");
  if (parts.length !== 3) return { status: 400, reason: "malformed request line" };
  const [method, target, version] = parts;
  if (!TOKEN.test(method) || !TARGET.test(target)) {
    return { status: 400, reason: "malformed request line" };
  }
  if (!/^HTTP\/1\.[0-9]$/.test(version)) {
    return { status: 505, reason: "HTTP version not supported" };
  }
  if (!limits.methods.includes(method)) return { status: 405, reason: "method not allowed" };
  const headers = new Map<string, string[]>();
  for (const line of fieldLines) {
    if (line.startsWith(" ") || line.startsWith("\t")) {
      return { status: 400, reason: "obsolete line folding" };
    }
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    const value = line.slice(colon + 1).trim();
    if (!TOKEN.test(name) || !FIELD_VALUE.test(value)) {
      return { status: 400, reason: "malformed header field" };
    }
    const key = name.toLowerCase();
    headers.set(key, [...(headers.get(key) ?? []), value]);
  }
  if (headers.has("transfer-encoding")) {
    return { status: 411, reason: "a body needs Content-Length (no chunked encoding)" };
  }
  const given = (headers.get("content-length") ?? []).flatMap((v) => v.split(","));
  const values = [...new Set(given.map((v) => v.trim()))];
  if (values.length > 1) return { status: 400, reason: "conflicting Content-Length" };
  if (values.length === 0) return { method, target, headers, length: 0 };
  if (!/^[0-9]{1,15}$/.test(values[0])) return { status: 400, reason: "malformed Content-Length" };
  const length = Number(values[0]);
  if (length > limits.maxBody) return { status: 413, reason: "request body too large" };
  return { method, target, headers, length };
}

/** Bytes as Latin-1 text: one character per byte, so decoding never fails. */
function latin1(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}

const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  202: "Accepted",
  400: "Bad Request",
  401: "Unauthorized",
  405: "Method Not Allowed",
  408: "Request Timeout",
  411: "Length Required",
  413: "Content Too Large",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  505: "HTTP Version Not Supported",
};

/** A complete response: `status`, a one-line plain-text body, and the connection closed. */
export function responseBytes(
  status: number,
  message: string,
  allow?: readonly string[],
): Uint8Array {
  const body = `${message}\n`;
  const head = [
    `HTTP/1.1 ${status} ${REASONS[status] ?? "Status"}`,
    "Content-Type: text/plain; charset=utf-8",
    `Content-Length: ${new TextEncoder().encode(body).length}`,
    "Connection: close",
    ...(status === 405 && allow !== undefined ? [`Allow: ${allow.join(", ")}`] : []),
  ];
  return new TextEncoder().encode(`${head.join("\r\n")}\r\n\r\n${body}`);
}

/** The interim response a client that sent `Expect: 100-continue` waits for. */
export const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");
