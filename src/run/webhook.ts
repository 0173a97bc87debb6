/**
 * What `core-ops webhook` answers (SPEC §8): one parsed request against the
 * shared secret and the tracked ref. Pure apart from WebCrypto; the command
 * (src/cli/webhook.ts) reads the request, sets the trigger and writes the
 * answer.
 *
 * Senders: GitHub and Gitea sign the body (`X-Hub-Signature-256:
 * sha256=<hex HMAC-SHA256>`), GitLab sends the secret itself
 * (`X-Gitlab-Token`). Both are compared in constant time: each side goes
 * through HMAC under a key drawn for this request, so the comparison sees two
 * 32-byte strings whatever the lengths, and its timing tells nothing about
 * the secret. Authentication comes before anything else is read from the
 * body: an unsigned request learns nothing but 401.
 *
 * @module
 */
import { header, type HttpRequest, type Limits, responseBytes } from "../host/http_request.ts";
import { type Connection, readRequest, writeAll } from "../host/stdio_http.ts";

/** The answer to one request, and whether it asks for an agent run. */
export interface WebhookAnswer {
  status: number;
  /** One line for the client and the log: never the secret, never the body. */
  message: string;
  trigger: boolean;
}

/** The refs a push to which moves the agent's `rev`. */
export function trackedRefs(rev: string): string[] {
  return rev.startsWith("refs/") ? [rev] : [`refs/heads/${rev}`, `refs/tags/${rev}`];
}

/**
 * Answers `request` for an agent tracking `rev` with the shared `secret`,
 * which must not be empty (anyone could sign with an empty key; the command
 * refuses one before it gets here).
 */
export async function answerWebhook(
  request: HttpRequest,
  secret: Uint8Array,
  rev: string,
): Promise<WebhookAnswer> {
  if (!(await authentic(request, secret))) {
    return {
      status: 401,
      message: "bad or missing signature (X-Hub-Signature-256 or X-Gitlab-Token)",
      trigger: false,
    };
  }
  const event = header(request, "x-github-event") ?? header(request, "x-gitea-event");
  if (event === "ping") return { status: 200, message: "pong", trigger: false };
  let ref: unknown;
  try {
    const body: unknown = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(request.body),
    );
    ref = typeof body === "object" && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>).ref
      : undefined;
  } catch {
    // Not UTF-8 or not JSON: the sender's mistake, answered as such; the body is never echoed.
    return { status: 400, message: "the body is not a JSON push event", trigger: false };
  }
  if (typeof ref !== "string") {
    return { status: 400, message: 'the body has no "ref" of a push event', trigger: false };
  }
  if (!trackedRefs(rev).includes(ref)) {
    return { status: 202, message: "a push to another ref: nothing to do", trigger: false };
  }
  return { status: 202, message: `a push to ${ref}: agent run triggered`, trigger: true };
}

/** Whether the request carries a valid signature or token for `secret`. */
async function authentic(request: HttpRequest, secret: Uint8Array): Promise<boolean> {
  const signature = header(request, "x-hub-signature-256");
  if (signature !== undefined) {
    const hex = /^sha256=([0-9a-fA-F]{64})$/.exec(signature);
    if (hex === null) return false;
    const expected = await hmac(secret, request.body);
    return await equalInConstantTime(fromHex(hex[1]), expected);
  }
  const token = header(request, "x-gitlab-token");
  if (token !== undefined) {
    // The header was read as Latin-1: back to its bytes, as the sender wrote them.
    const bytes = Uint8Array.from(token, (c) => c.charCodeAt(0));
    return await equalInConstantTime(bytes, secret);
  }
  return false;
}

async function hmac(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey(
    "raw",
    new Uint8Array(key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, new Uint8Array(data)));
}

/** `a` equals `b`, compared through HMAC under a fresh random key so that timing reveals nothing. */
export async function equalInConstantTime(a: Uint8Array, b: Uint8Array): Promise<boolean> {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const [x, y] = await Promise.all([hmac(key, a), hmac(key, b)]);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  return diff === 0;
}

function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => Number.parseInt(h, 16));
}

/** What a request may be (SPEC §8): POST only, a body of at most 1 MiB. */
export const WEBHOOK_LIMITS: Limits = {
  maxHead: 16 * 1024,
  maxBody: 1024 * 1024,
  methods: ["POST"],
};

/** How long the whole request may take to arrive. */
export const WEBHOOK_READ_MS = 10_000;

/**
 * Serves the one request on `conn`: reads it, answers it, and sets the
 * trigger (before answering: a 202 means the run is asked for) when it is
 * an authentic push to the tracked ref. Resolves to the answer given.
 */
export async function serveWebhook(
  conn: Connection,
  secret: Uint8Array,
  rev: string,
  setTrigger: () => Promise<void>,
  readMs = WEBHOOK_READ_MS,
): Promise<WebhookAnswer> {
  const parsed = await readRequest(conn, WEBHOOK_LIMITS, readMs);
  const answer: WebhookAnswer = parsed.kind === "invalid"
    ? { status: parsed.status, message: parsed.reason, trigger: false }
    : await answerWebhook(parsed.request, secret, rev);
  if (answer.trigger) {
    try {
      await setTrigger();
    } catch (error) {
      // The sender learns the run was not asked for; the reason goes to the caller's log.
      await writeAll(conn, responseBytes(500, "the trigger could not be set"));
      throw error;
    }
  }
  await writeAll(conn, responseBytes(answer.status, answer.message, WEBHOOK_LIMITS.methods));
  return answer;
}
