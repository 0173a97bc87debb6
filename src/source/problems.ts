/**
 * Where the layout loader collects what is wrong with a repository. The loader
 * goes on after a problem and throws once, so one run shows the operator every
 * rule the layout breaks, not only the first. The content checks that every
 * reader of a manifest or unit file shares (UTF-8, NUL, YAML size) live here
 * too, so each is reported the same way wherever it is found.
 *
 * @module
 */
import { type Diagnostic, invalid } from "../errors.ts";
import type { Warning } from "../model.ts";
import { showPath } from "./names.ts";
import type { FileEntry } from "../tree.ts";
import { MAX_YAML_SIZE } from "./yaml.ts";

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

/** The errors and warnings of one load, in the order they were found. */
export class Problems {
  /** Refusals: any one of them makes the load exit 65. */
  readonly errors: Diagnostic[] = [];
  /** Things skipped on purpose that the operator should still hear about. */
  readonly warnings: Warning[] = [];

  /** Records a refusal at `file` (shown escaped, so a hostile name cannot reach the terminal). */
  error(file: string, message: string, hint?: string, line?: number, column?: number): void {
    this.errors.push({ message, location: { file: showPath(file), line, column }, hint });
  }

  /** Records a warning: `file` was skipped or ignored, and the load goes on. */
  warn(file: string, message: string): void {
    this.warnings.push({ file, message });
  }

  /** Throws exit 65 with every error so far, so later steps never read what an earlier refused. */
  throwIfAny(): void {
    if (this.errors.length > 0) throw invalid(this.errors);
  }

  /** The text of a YAML manifest, or null after an error: too large or not UTF-8. */
  yamlText(entry: FileEntry): string | null {
    if (entry.size > MAX_YAML_SIZE) {
      this.error(
        entry.path,
        `YAML manifest is larger than ${MAX_YAML_SIZE / 1024} KiB (${entry.size} bytes)`,
      );
      return null;
    }
    return this.utf8(entry, "YAML manifest");
  }

  /** The content of `entry` as strict UTF-8, or null after an error naming the first bad byte. */
  utf8(entry: FileEntry, what: string): string | null {
    const bytes = entry.content ?? new Uint8Array();
    try {
      return STRICT_UTF8.decode(bytes);
    } catch {
      const { line, column } = firstInvalidUtf8(bytes);
      this.error(entry.path, `${what} is not valid UTF-8`, "save it as UTF-8", line, column);
      return null;
    }
  }

  /**
   * Whether a unit file or drop-in is UTF-8 without NUL, else false after an
   * error: Podman's generator passes both through, and systemd then drops or
   * splits the line silently.
   */
  unitContentOk(entry: FileEntry): boolean {
    const source = this.utf8(entry, "unit file");
    if (source === null) return false;
    const nul = source.indexOf("\0");
    if (nul >= 0) {
      const before = source.slice(0, nul).split("\n");
      this.error(
        entry.path,
        "unit file holds a NUL byte",
        "systemd would cut the line there: remove it",
        before.length,
        before[before.length - 1].length + 1,
      );
      return false;
    }
    return true;
  }
}

/**
 * The 1-based line and column of the first byte that breaks UTF-8 in `bytes`,
 * so the operator can find it in an editor that shows the rest fine.
 */
export function firstInvalidUtf8(bytes: Uint8Array): { line: number; column: number } {
  let line = 1;
  let column = 1;
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    const length = b < 0x80
      ? 1
      : b >= 0xc2 && b <= 0xdf
      ? 2
      : b >= 0xe0 && b <= 0xef
      ? 3
      : b >= 0xf0 && b <= 0xf4
      ? 4
      : 0;
    if (length === 0 || i + length > bytes.length) break;
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(i, i + length));
    } catch {
      break;
    }
    if (b === 0x0a) {
      line++;
      column = 1;
    } else {
      column++;
    }
    i += length;
  }
  return { line, column };
}
