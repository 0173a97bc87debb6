/**
 * The webhook's connection: the request read from a byte stream (stdin, which
 * systemd connects to the accepted socket) within a size limit and a
 * deadline, and the answer written back. The parsing itself is pure
 * (./http_request.ts); this is the waiting and the I/O around it.
 *
 * @module
 */
import { CONTINUE, type Limits, type Parsed, parseRequest } from "./http_request.ts";

/** A connection as the webhook sees it; tests pass an in-memory one. */
export interface Connection {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
}

/** stdin and stdout as one connection (`StandardInput=socket`, `StandardOutput=socket`). */
export const stdioConnection: Connection = {
  read: (buffer) => Deno.stdin.read(buffer),
  write: (bytes) => Deno.stdout.write(bytes),
};

/** Writes all of `bytes`. */
export async function writeAll(conn: Connection, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/**
 * Reads one request from `conn`: complete, invalid (with the status to answer),
 * or 408 when it is not all in within `deadlineMs` (a slow sender holds one
 * process, never more than that long). Answers `Expect: 100-continue` itself.
 */
export async function readRequest(
  conn: Connection,
  limits: Limits,
  deadlineMs: number,
): Promise<Exclude<Parsed, { kind: "incomplete" }>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"expired">((resolve) => {
    timer = setTimeout(() => resolve("expired"), deadlineMs);
  });
  try {
    let received = new Uint8Array(0);
    let continued = false;
    const chunk = new Uint8Array(64 * 1024);
    while (true) {
      const n = await Promise.race([conn.read(chunk), expired]);
      if (n === "expired") {
        return { kind: "invalid", status: 408, reason: "the request was not read in time" };
      }
      if (n === null) {
        return { kind: "invalid", status: 400, reason: "the connection ended mid-request" };
      }
      const next = new Uint8Array(received.length + n);
      next.set(received);
      next.set(chunk.subarray(0, n), received.length);
      received = next;
      const parsed = parseRequest(received, limits);
      if (parsed.kind !== "incomplete") return parsed;
      if (parsed.expectContinue && !continued) {
        continued = true;
        await writeAll(conn, CONTINUE);
      }
    }
  } finally {
    clearTimeout(timer);
  }
}
