/**
 * Atomic replacement of a small text file, for the metrics textfile: a reader
 * (node_exporter) sees the old content or the new, never a partial write.
 *
 * @module
 */
import { basename, dirname } from "node:path";
import { CoreOpsError, Exit } from "../errors.ts";

/** Writes text files atomically; faked in unit tests. */
export interface TextFileWriter {
  /**
   * Replaces `path` with `text` (mode 0644) through a temp file in the same
   * directory, fsync and rename. Throws a CoreOpsError when it cannot.
   */
  write(path: string, text: string): Promise<void>;
}

/** The real writer. */
export const textFiles: TextFileWriter = { write: writeTextAtomic };

/** See {@link TextFileWriter.write}. */
export async function writeTextAtomic(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  // Not ending in .prom: node_exporter's textfile collector skips it.
  const temp = `${dir}/.${basename(path)}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
    const file = await Deno.open(temp, { write: true, createNew: true, mode: 0o644 });
    try {
      await file.write(new TextEncoder().encode(text));
      // The umask may have narrowed the mode; readers (node_exporter) need 0644.
      await Deno.chmod(temp, 0o644);
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(temp, path);
    await syncDir(dir);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw new CoreOpsError(Exit.software, "internal", [{
      message: `cannot write ${error instanceof Error ? error.message : String(error)}`,
      location: { file: path },
    }]);
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}
