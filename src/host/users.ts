/**
 * The host's user database, as NSS answers it (`getent passwd`): the uid and
 * gid of the logins that run user services (SPEC §7), and whether each may
 * run them — lingering enabled (`/var/lib/systemd/linger/<login>`), so its
 * systemd manager runs without a session. One process for every login asked.
 *
 * @module
 */

/** A login as the user database knows it. */
export interface UserEntry {
  login: string;
  uid: number;
  gid: number;
  home: string;
}

/** What core-ops asks of the user database; a fake stands in for it in unit tests. */
export interface Users {
  /** The entries of `logins` by login; a login the database does not know is absent. */
  lookup(logins: readonly string[]): Promise<Map<string, UserEntry>>;
  /** Whether lingering is enabled for `login` (its manager starts at boot, stays without a session). */
  lingers(login: string): Promise<boolean>;
}

/** Where logind keeps one empty file per login with lingering enabled. */
export const LINGER_DIR = "/var/lib/systemd/linger";

/** Parses `getent passwd` lines (`name:x:uid:gid:gecos:home:shell`). Pure. */
export function parsePasswd(text: string): Map<string, UserEntry> {
  const out = new Map<string, UserEntry>();
  for (const line of text.split("\n")) {
    const fields = line.split(":");
    if (fields.length < 7) continue;
    const [login, , uid, gid, , home] = fields;
    if (!/^\d+$/.test(uid) || !/^\d+$/.test(gid)) continue;
    out.set(login, { login, uid: Number(uid), gid: Number(gid), home });
  }
  return out;
}

/** The real user database of this host. */
export const realUsers: Users = {
  async lookup(logins) {
    if (logins.length === 0) return new Map();
    const output = await new Deno.Command("getent", {
      args: ["passwd", "--", ...logins],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { LC_ALL: "C" },
    }).output();
    // Exit 2: one or more keys not found — the others are still printed.
    if (!output.success && output.code !== 2) {
      const said = new TextDecoder().decode(output.stderr).trim();
      throw new Error(`getent passwd failed (exit ${output.code}): ${said}`);
    }
    const found = parsePasswd(new TextDecoder().decode(output.stdout));
    // getent also answers a numeric key with that uid's entry: only names count here.
    return new Map([...found].filter(([login]) => logins.includes(login)));
  },

  async lingers(login) {
    try {
      await Deno.stat(`${LINGER_DIR}/${login}`);
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  },
};
