/**
 * Repository URLs as core-ops handles them: which transports it fetches over,
 * how credentials are kept out of every message and record, and the ssh
 * command for ssh remotes.
 *
 * @module
 */
import { CoreOpsError, Exit } from "../errors.ts";

/** Removes credentials from a repository URL before it is shown or stored. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1***@");
}

/**
 * Removes the credentials of `url` from any text (git's stderr may quote the
 * URL, or parts of it, percent-decoded or not), and the userinfo of any other
 * URL in it.
 */
export function redactText(text: string, url: string): string {
  let out = text;
  const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^/@]*)@/i.exec(url)?.[1];
  if (userinfo !== undefined && userinfo !== "") {
    const secrets = new Set<string>([userinfo]);
    for (const part of userinfo.split(":")) if (part.length >= 3) secrets.add(part);
    for (const secret of [...secrets]) {
      try {
        secrets.add(decodeURIComponent(secret));
      } catch {
        // Not valid percent-encoding: the raw form is already covered.
      }
    }
    // Longest first, so a token is not left half-replaced by its user name.
    for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
      out = out.split(secret).join("***");
    }
  }
  return out.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s'"]*@/gi, "$1***@");
}

/** The transports core-ops fetches over. */
export type RepoUrlKind = "file" | "http" | "ssh";

/**
 * Classifies a repository URL, or throws exit 64: `file://` URLs and absolute
 * paths, `http(s)://`, and `ssh://` or scp-like `user@host:path`.
 */
export function repoUrlKind(url: string): RepoUrlKind {
  if (url.startsWith("/") || /^file:\/\//i.test(url)) return "file";
  if (/^https?:\/\/[^/]/i.test(url)) return "http";
  if (/^ssh:\/\/[^/]/i.test(url)) return "ssh";
  if (
    /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/]/.test(url) ||
    /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:\//.test(url)
  ) {
    return "ssh";
  }
  throw new CoreOpsError(Exit.usage, "usage", [{
    message: `unsupported repository URL "${redactUrl(url)}"`,
    hint: "use file:///path, an absolute path, https://host/repo.git or ssh://user@host/repo.git",
  }]);
}

/** Quotes one word for the shell git runs `GIT_SSH_COMMAND` through. */
function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The ssh command git uses for ssh remotes. Never interactive (BatchMode),
 * never trusting a new host key (StrictHostKeyChecking=yes). With a deploy
 * key, only that key is offered and host keys are looked up in `known_hosts`
 * in the key's directory, so the key and the hosts it may talk to are
 * provisioned together (e.g. both in /etc/core-ops by Ignition); without one,
 * ssh's own defaults (root's ~/.ssh) apply.
 */
export function sshCommand(sshKey: string | null, connectTimeoutSeconds: number): string {
  const words = [
    "ssh",
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `ConnectTimeout=${connectTimeoutSeconds}`,
  ];
  if (sshKey !== null) {
    words.push(
      "-i",
      sshKey,
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      `UserKnownHostsFile=${knownHostsPath(sshKey)}`,
    );
  }
  return words.map(shellQuote).join(" ");
}

/** The known_hosts file used with a deploy key: `known_hosts` next to the key. */
export function knownHostsPath(sshKey: string): string {
  return `${sshKey.slice(0, sshKey.lastIndexOf("/") + 1)}known_hosts`;
}
