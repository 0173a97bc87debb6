/** The audit event's encoding for logger --journald, and the stderr fallback. */
import assert from "node:assert/strict";
import {
  type AuditEvent,
  decodeFieldValue,
  encodeFieldValue,
  eventFields,
  journalSink,
  loggerInput,
  MESSAGE_ID,
  stderrLine,
} from "../../src/host/journal.ts";

const event: AuditEvent = {
  message: "core-ops: revision abc failed  \nweb.service did not start",
  priority: 3,
  fields: {
    CORE_OPS_RUN_ID: "r-1",
    CORE_OPS_STATUS: "failure",
    CORE_OPS_FAILURE_REASON: "line one\nline two\\with backslash\ttab  ",
    CORE_OPS_ACTIONS: "",
  },
};

Deno.test("MESSAGE_ID is a fixed 128-bit id", () => {
  assert.match(MESSAGE_ID, /^[0-9a-f]{32}$/);
});

Deno.test("every field is one logger line; MESSAGE keeps its lines", () => {
  const input = loggerInput(event);
  assert.equal(
    input,
    [
      "SYSLOG_IDENTIFIER=core-ops",
      `MESSAGE_ID=${MESSAGE_ID}`,
      "PRIORITY=3",
      "MESSAGE=core-ops: revision abc failed",
      "MESSAGE=web.service did not start",
      "CORE_OPS_RUN_ID=r-1",
      "CORE_OPS_STATUS=failure",
      "CORE_OPS_FAILURE_REASON=line one\\nline two\\\\with backslash\\ttab\\x20\\x20",
      "CORE_OPS_ACTIONS=",
      "",
    ].join("\n"),
  );
  // logger ends the entry at an empty line and trims trailing whitespace:
  // neither may occur inside the input.
  const lines = input.split("\n").slice(0, -1);
  for (const line of lines) {
    assert.match(line, /^[A-Z0-9_]+=/);
    assert.equal(line, line.trimEnd());
  }
});

Deno.test("field values round-trip through the encoding, whatever they hold", () => {
  const samples = [
    "",
    "plain",
    "a\nb\r\n",
    "\\n is not a newline",
    "\\x41",
    "trailing   ",
    " leading",
    "\x00\x01\x1b[31mred\x7f",
    "ünïcödé ✓ \u202e",
  ];
  for (let c = 0; c < 128; c++) samples.push(`x${String.fromCharCode(c)}y`, String.fromCharCode(c));
  for (const value of samples) {
    const encoded = encodeFieldValue(value);
    // deno-lint-ignore no-control-regex -- no control character may survive encoding
    assert.doesNotMatch(encoded, /[\x00-\x1f\x7f]/, JSON.stringify(value));
    assert.doesNotMatch(encoded, /\s$/, JSON.stringify(value));
    assert.equal(decodeFieldValue(encoded), value, JSON.stringify(value));
  }
});

Deno.test("invalid field names do not break the event", () => {
  const fields = eventFields({
    message: "m",
    fields: { "CORE_OPS_bad name": "v", CORE_OPS_OK: "w" } as AuditEvent["fields"],
  });
  assert.equal(fields.CORE_OPS_INVALID_FIELD_1, "v");
  assert.equal(fields.CORE_OPS_OK, "w");
  assert.equal(fields.PRIORITY, "6");
});

Deno.test("without journald the event goes to stderr as one JSON line, never throwing", async () => {
  // A logger that never returns (journald wedged): cut off at the timeout.
  const hang = await Deno.makeTempFile({ prefix: "core-ops-hanging-logger-" });
  await Deno.writeTextFile(hang, "#!/bin/sh\nexec sleep 30\n");
  await Deno.chmod(hang, 0o755);
  for (const logger of ["/nonexistent/logger", "false", hang]) {
    const started = performance.now();
    const lines: string[] = [];
    const sink = journalSink({ logger, timeoutMs: 300, writeStderr: (l) => lines.push(l) });
    assert.equal(await sink.emit(event), "stderr", logger);
    assert.equal(lines.length, 1);
    assert.ok(!lines[0].includes("\n"));
    const parsed = JSON.parse(lines[0]);
    assert.equal(parsed.MESSAGE_ID, MESSAGE_ID);
    assert.equal(parsed.SYSLOG_IDENTIFIER, "core-ops");
    assert.equal(parsed.CORE_OPS_FAILURE_REASON, event.fields.CORE_OPS_FAILURE_REASON);
    assert.equal(lines[0], stderrLine(event));
    assert.ok(performance.now() - started < 3000, `${logger} was not cut off`);
  }
  const broken = journalSink({
    logger: "false",
    writeStderr: () => {
      throw new Error("stderr closed");
    },
  });
  assert.equal(await broken.emit(event), "stderr");
});

Deno.test("a logger that accepts the event means it went to the journal", async () => {
  // `true` stands in for a logger whose journald took the entry.
  const lines: string[] = [];
  const sink = journalSink({ logger: "true", writeStderr: (l) => lines.push(l) });
  assert.equal(await sink.emit(event), "journal");
  assert.deepEqual(lines, []);
});
