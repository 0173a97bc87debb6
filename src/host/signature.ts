/**
 * Signed revisions (SPEC §4, `require-signed`): the fetched commit must carry
 * an ssh signature by a key in the operator's allowed-signers file, checked
 * by git itself (`gpg.format=ssh`, `gpg.ssh.allowedSignersFile`, `git
 * verify-commit`, which runs `ssh-keygen -Y verify`) before anything is
 * planned.
 *
 * @module
 */
import { CoreOpsError, Exit, noInput } from "../errors.ts";
import { git, SAFE_CONFIG } from "./git.ts";

/** Who signed a verified commit, for the audit event. */
export interface VerifiedSignature {
  /** The allowed-signers principal that matched (e.g. an e-mail address). */
  principal: string;
  /** The signing key's fingerprint, e.g. `SHA256:…`. */
  fingerprint: string;
}

/** Verifies commit signatures; faked in unit tests. */
export interface SignatureVerifier {
  /**
   * Resolves when `commit` in the repository at `gitDir` is signed by a key in
   * `allowedSigners`. Throws 65 (unsigned, or signed by any other key) or 66
   * (the allowed-signers file cannot be read).
   */
  verify(gitDir: string, commit: string, allowedSigners: string): Promise<VerifiedSignature>;
}

/** The real verifier, running git. */
export const gitSignatureVerifier: SignatureVerifier = { verify: verifyCommit };

/** See {@link SignatureVerifier.verify}. */
export async function verifyCommit(
  gitDir: string,
  commit: string,
  allowedSigners: string,
): Promise<VerifiedSignature> {
  await checkReadable(allowedSigners);
  const result = await git([
    "--git-dir",
    gitDir,
    ...SAFE_CONFIG,
    "-c",
    "gpg.format=ssh",
    "-c",
    `gpg.ssh.allowedSignersFile=${allowedSigners}`,
    "-c",
    "gpg.ssh.program=ssh-keygen",
    "verify-commit",
    "--verbose",
    "--end-of-options",
    commit,
  ]);
  // git prints the verdict on stderr: `Good "git" signature for <principal>
  // with <TYPE> key SHA256:<fingerprint>`.
  const good = /^Good "git" signature for (.+) with \S+ key (\S+)$/m.exec(result.stderr);
  if (result.ok && good !== null) return { principal: good[1], fingerprint: good[2] };

  const raw = await git(["--git-dir", gitDir, ...SAFE_CONFIG, "cat-file", "commit", commit]);
  const signed = raw.ok && /^gpgsig /m.test(raw.stdout.split("\n\n")[0]);
  const said = result.stderr.split("\n").map((l) => l.trim()).filter((l) =>
    l !== "" && !/^(tree|parent|author|committer|gpgsig|-----| ) ?/.test(l)
  ).at(-1);
  throw new CoreOpsError(Exit.dataErr, "validation", [{
    message: signed
      ? `commit ${commit} is not signed by a key in the allowed signers${
        said === undefined ? "" : ` (${said})`
      }`
      : `commit ${commit} is not signed`,
    location: { file: allowedSigners },
    hint: signed
      ? "sign with a key listed in this file, or add the signer's key to it"
      : "require-signed is set: sign commits with an ssh key (git commit -S, gpg.format=ssh)",
  }]);
}

async function checkReadable(path: string): Promise<void> {
  try {
    await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw noInput("allowed-signers file not found", path, "check allowed-signers in agent.toml");
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw noInput("permission denied reading the allowed-signers file", path, "run as root");
    }
    throw error;
  }
}
