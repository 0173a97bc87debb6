/**
 * A reader for systemd unit file syntax (quadlets, native units, drop-ins), as
 * far as core-ops needs it: sections, keys, values and their line numbers.
 *
 * @module
 */

/** One `Key=value` assignment. */
export interface UnitEntry {
  section: string;
  key: string;
  value: string;
  /** 1-based line of the key. */
  line: number;
}

/** A parsed unit file. */
export interface UnitFile {
  /** Section names in order of first appearance. */
  sections: string[];
  entries: UnitEntry[];
}

/**
 * Parses unit file text. Comments start with `#` or `;`; a trailing backslash
 * continues a value on the next line (joined with a space, as systemd does).
 * Lines outside any section and lines without `=` are kept out of `entries`:
 * judging them is the generator's job, not ours.
 */
export function parseUnitFile(text: string): UnitFile {
  const sections: string[] = [];
  const entries: UnitEntry[] = [];
  let section = "";
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i].trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    if (line.startsWith("[") && line.endsWith("]")) {
      section = line.slice(1, -1).trim();
      if (!sections.includes(section)) sections.push(section);
      continue;
    }
    while (line.endsWith("\\") && i + 1 < lines.length) {
      i++;
      const next = lines[i].trim();
      if (next.startsWith("#") || next.startsWith(";")) continue;
      line = line.slice(0, -1) + " " + next;
    }
    const eq = line.indexOf("=");
    if (eq <= 0 || section === "") continue;
    entries.push({
      section,
      key: line.slice(0, eq).trim(),
      value: line.slice(eq + 1).trim(),
      line: start + 1,
    });
  }
  return { sections, entries };
}

/** All values of `section`/`key` across `files`, in order (later files extend earlier ones). */
export function values(files: readonly UnitFile[], section: string, key: string): string[] {
  const out: string[] = [];
  for (const file of files) {
    for (const e of file.entries) {
      if (e.section !== section || e.key !== key) continue;
      // An empty assignment resets the list, as in systemd.
      if (e.value === "") out.length = 0;
      else out.push(e.value);
    }
  }
  return out;
}

/** The last value of a single-valued `section`/`key` across `files`, if any. */
export function lastValue(
  files: readonly UnitFile[],
  section: string,
  key: string,
): string | undefined {
  const all = values(files, section, key);
  return all.length > 0 ? all[all.length - 1] : undefined;
}

/** Splits a whitespace-separated list value such as `After=a.service b.service`. */
export function splitList(value: string): string[] {
  return value.split(/\s+/).filter((part) => part !== "");
}
