/**
 * The audit event (SPEC §4): exactly one journald entry per agent run, with
 * `SYSLOG_IDENTIFIER=core-ops`, a fixed `MESSAGE_ID`, a human `MESSAGE` and
 * `CORE_OPS_*` fields.
 *
 * Transport: `logger --journald` (util-linux), fed the fields on stdin. The
 * journal's native protocol needs a unix datagram socket, which Deno 2.9
 * only offers behind `--unstable-net` (`Deno.listenDatagram` does not exist
 * without it), and FFI would widen the permissions far more than one program.
 *
 * logger reads one field per line, so values are encoded for it (see
 * {@link encodeFieldValue}): MESSAGE keeps its newlines (logger joins
 * repeated `MESSAGE=` lines with a newline), every other value has
 * backslash, control characters and trailing whitespace escaped
 * (`\\`, `\n`, `\xHH`); {@link decodeFieldValue} restores it exactly.
 *
 * When journald is down, full or logger is missing, the event goes to stderr
 * as one JSON line with the original values, and the run's outcome does not
 * change: {@link EventSink.emit} never throws.
 *
 * @module
 */

/** The MESSAGE_ID of every core-ops run event (`journalctl MESSAGE_ID=…`). */
export const MESSAGE_ID = "1e79fd09ceab45c5b337e9c9c7c915ba";

/** The SYSLOG_IDENTIFIER of core-ops' entries. */
export const SYSLOG_IDENTIFIER = "core-ops";

/** A field core-ops adds to its event. */
export type EventFieldName = `CORE_OPS_${string}`;

/** One audit event. */
export interface AuditEvent {
  /** Human-readable summary; may span lines. */
  message: string;
  /** syslog priority: 3 (err) for failures, 6 (info) otherwise (default 6). */
  priority?: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7;
  /** `CORE_OPS_*` fields; values may hold any text, newlines included. */
  fields: Partial<Record<EventFieldName, string>>;
}

/** Where an event went. */
export type Delivery = "journal" | "stderr";

/** Emits audit events; faked in unit tests. */
export interface EventSink {
  /** Sends one event; never throws. Says whether journald took it or it went to stderr. */
  emit(event: AuditEvent): Promise<Delivery>;
}

const FIELD_NAME = /^CORE_OPS_[A-Z0-9_]+$/;

/**
 * Every field of the entry, with the values as given (MESSAGE lines without
 * trailing whitespace, which logger would drop). Field names that journald
 * would refuse are an error in the caller; they are replaced by
 * `CORE_OPS_INVALID_FIELD_<n>` so the event still goes out. Pure.
 */
export function eventFields(event: AuditEvent): Record<string, string> {
  const fields: Record<string, string> = {
    SYSLOG_IDENTIFIER,
    MESSAGE_ID,
    PRIORITY: String(event.priority ?? 6),
    MESSAGE: event.message.split("\n").map((l) => l.replace(/\s+$/, "")).join("\n"),
  };
  let invalid = 0;
  for (const [name, value] of Object.entries(event.fields)) {
    if (value === undefined) continue;
    fields[FIELD_NAME.test(name) ? name : `CORE_OPS_INVALID_FIELD_${++invalid}`] = value;
  }
  return fields;
}

/**
 * Escapes a value so that it is one line logger keeps as it is: `\` → `\\`,
 * newline → `\n`, tab → `\t`, CR → `\r`, other control characters → `\xHH`,
 * and trailing spaces as `\x20` (logger trims trailing whitespace). Pure.
 */
export function encodeFieldValue(value: string): string {
  // deno-lint-ignore no-control-regex -- control characters are what is escaped
  const escaped = value.replace(/[\\\x00-\x1f\x7f]/g, (c) => {
    switch (c) {
      case "\\":
        return "\\\\";
      case "\n":
        return "\\n";
      case "\t":
        return "\\t";
      case "\r":
        return "\\r";
      default:
        return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
    }
  });
  return escaped.replace(/ +$/, (spaces) => "\\x20".repeat(spaces.length));
}

/** Reverses {@link encodeFieldValue}, for readers of the journal (`explain`). Pure. */
export function decodeFieldValue(encoded: string): string {
  return encoded.replace(/\\(\\|n|t|r|x[0-9a-f]{2})/g, (_, e: string) => {
    switch (e) {
      case "\\":
        return "\\";
      case "n":
        return "\n";
      case "t":
        return "\t";
      case "r":
        return "\r";
      default:
        return String.fromCharCode(Number.parseInt(e.slice(1), 16));
    }
  });
}

/** The stdin of `logger --journald` for `event`: one `NAME=value` line per field. Pure. */
export function loggerInput(event: AuditEvent): string {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(eventFields(event))) {
    if (name === "MESSAGE") {
      for (const line of value.split("\n")) lines.push(`MESSAGE=${line}`);
    } else {
      lines.push(`${name}=${encodeFieldValue(value)}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** The fallback: the event as one JSON line, values as given. Pure. */
export function stderrLine(event: AuditEvent): string {
  return JSON.stringify(eventFields(event));
}

/** How {@link journalSink} reaches journald and stderr. */
export interface JournalSinkOptions {
  /** The logger program (default `logger`, found through PATH). */
  logger?: string;
  /** Longest logger may take before the event goes to stderr instead (default 5 s). */
  timeoutMs?: number;
  /** Writes one line to stderr (default: the process's stderr). */
  writeStderr?: (line: string) => void;
}

/** An event sink that sends to journald through logger, falling back to stderr. */
export function journalSink(options: JournalSinkOptions = {}): EventSink {
  const writeStderr = options.writeStderr ??
    ((line: string) => Deno.stderr.writeSync(new TextEncoder().encode(line + "\n")));
  return {
    async emit(event) {
      let sent = false;
      try {
        sent = await sendWithLogger(
          options.logger ?? "logger",
          loggerInput(event),
          options.timeoutMs ?? 5000,
        );
      } catch {
        // Whatever went wrong reaching journald (logger missing, not
        // permitted, …), the event must still be written and the run's
        // outcome must not change.
        sent = false;
      }
      if (sent) return "journal";
      try {
        writeStderr(stderrLine(event));
      } catch {
        // stderr closed too: nowhere left to report; the outcome stands.
      }
      return "stderr";
    },
  };
}

/** The real sink: journald via `logger --journald`, else stderr. */
export const journal: EventSink = journalSink();

async function sendWithLogger(logger: string, input: string, timeoutMs: number): Promise<boolean> {
  const child = new Deno.Command(logger, {
    args: ["--journald"],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }, timeoutMs);
  try {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(input)).catch(() => {});
    await writer.close().catch(() => {});
    return (await child.status).success;
  } finally {
    clearTimeout(timer);
  }
}
