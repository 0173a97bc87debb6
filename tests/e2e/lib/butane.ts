/**
 * A test-only Butane → Ignition translator for exactly the subset that
 * butane/*.bu use: `variant: fcos`, `version: 1.4.0` (→ Ignition 3.3.0);
 * `storage.files` (path, mode, overwrite, contents.source + verification.hash,
 * contents.inline, contents.local), `storage.directories` (path, mode),
 * `passwd.users` (name, uid, home_dir, shell) and `systemd.units` (name,
 * enabled, mask, contents, dropins with contents).
 *
 * Why it exists: the real Butane is not installable here (no Debian package,
 * and only the npm registry and Debian's mirror are reachable), and the
 * first-boot test must still start from the shipped .bu files. Anything
 * outside the subset is refused rather than guessed, and the output is
 * checked with the real `ignition-validate` before the real Ignition applies
 * it, so a translation mistake fails the test instead of hiding in it. It is
 * not a replacement for Butane: operators run `butane --strict`.
 *
 * YAML is read as YAML 1.1, as Butane (go-yaml) does: `mode: 0644` is octal.
 *
 * @module
 */
import { parse } from "yaml";
import { z } from "zod";

const contents = z.strictObject({
  source: z.string().optional(),
  inline: z.string().optional(),
  local: z.string().optional(),
  verification: z.strictObject({ hash: z.string() }).optional(),
}).refine(
  (c) => [c.source, c.inline, c.local].filter((v) => v !== undefined).length === 1,
  "exactly one of contents.source, contents.inline, contents.local",
).refine(
  (c) => c.verification === undefined || c.source !== undefined,
  "verification.hash only with contents.source",
);

const mode = z.number().int().min(0).max(0o7777);

const butaneSchema = z.strictObject({
  variant: z.literal("fcos"),
  version: z.literal("1.4.0"),
  storage: z.strictObject({
    files: z.array(z.strictObject({
      path: z.string().startsWith("/"),
      mode: mode.optional(),
      overwrite: z.boolean().optional(),
      contents: contents.optional(),
    })).optional(),
    directories: z.array(z.strictObject({
      path: z.string().startsWith("/"),
      mode: mode.optional(),
    })).optional(),
  }).optional(),
  passwd: z.strictObject({
    users: z.array(z.strictObject({
      name: z.string(),
      uid: z.number().int().optional(),
      home_dir: z.string().startsWith("/").optional(),
      shell: z.string().startsWith("/").optional(),
    })),
  }).optional(),
  systemd: z.strictObject({
    units: z.array(z.strictObject({
      name: z.string(),
      enabled: z.boolean().optional(),
      mask: z.boolean().optional(),
      contents: z.string().optional(),
      dropins: z.array(z.strictObject({ name: z.string(), contents: z.string() })).optional(),
    })),
  }).optional(),
});

/** A Butane config of the supported subset, as parsed. */
export type ButaneConfig = z.infer<typeof butaneSchema>;

/** Ignition 3.3.0 file contents: a URL (data: for inline) and an optional hash. */
interface IgnitionContents {
  source: string;
  verification?: { hash: string };
}

/** The Ignition 3.3.0 document {@link translate} produces. */
export interface IgnitionConfig {
  ignition: { version: "3.3.0" };
  storage?: {
    files?: { path: string; mode?: number; overwrite?: boolean; contents?: IgnitionContents }[];
    directories?: { path: string; mode?: number }[];
  };
  passwd?: { users: { name: string; uid?: number; homeDir?: string; shell?: string }[] };
  systemd?: {
    units: {
      name: string;
      enabled?: boolean;
      mask?: boolean;
      contents?: string;
      dropins?: { name: string; contents: string }[];
    }[];
  };
}

/** Parses Butane YAML (1.1, like Butane) and checks it is inside the subset. */
export function parseButane(text: string): ButaneConfig {
  return butaneSchema.parse(parse(text, { version: "1.1" }));
}

/** Inline data as Ignition takes it: a base64 data URL (Butane may also gzip; not needed here). */
function dataUrl(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return `data:;base64,${btoa(binary)}`;
}

/**
 * Translates `config` to Ignition 3.3.0. `contents.local` paths are read
 * relative to `filesDir` (Butane's `--files-dir`) and may not leave it.
 */
export async function translate(config: ButaneConfig, filesDir: string): Promise<IgnitionConfig> {
  const out: IgnitionConfig = { ignition: { version: "3.3.0" } };
  if (config.storage) {
    out.storage = {};
    if (config.storage.files) {
      out.storage.files = [];
      for (const file of config.storage.files) {
        const entry: NonNullable<NonNullable<IgnitionConfig["storage"]>["files"]>[number] = {
          path: file.path,
        };
        if (file.overwrite !== undefined) entry.overwrite = file.overwrite;
        if (file.contents) entry.contents = await contentsOf(file.contents, filesDir);
        if (file.mode !== undefined) entry.mode = file.mode;
        out.storage.files.push(entry);
      }
    }
    if (config.storage.directories) {
      out.storage.directories = config.storage.directories.map((d) => ({ ...d }));
    }
  }
  if (config.passwd) {
    out.passwd = {
      users: config.passwd.users.map((u) => ({
        name: u.name,
        ...(u.uid !== undefined ? { uid: u.uid } : {}),
        ...(u.home_dir !== undefined ? { homeDir: u.home_dir } : {}),
        ...(u.shell !== undefined ? { shell: u.shell } : {}),
      })),
    };
  }
  if (config.systemd) out.systemd = { units: config.systemd.units.map((u) => ({ ...u })) };
  return out;
}

async function contentsOf(
  c: z.infer<typeof contents>,
  filesDir: string,
): Promise<IgnitionContents> {
  if (c.source !== undefined) {
    return c.verification ? { source: c.source, verification: c.verification } : {
      source: c.source,
    };
  }
  if (c.inline !== undefined) return { source: dataUrl(new TextEncoder().encode(c.inline)) };
  const local = c.local as string;
  if (local.startsWith("/") || local.split("/").includes("..")) {
    throw new Error(`contents.local ${local} must be relative to --files-dir, without ..`);
  }
  return { source: dataUrl(await Deno.readFile(`${filesDir}/${local}`)) };
}
