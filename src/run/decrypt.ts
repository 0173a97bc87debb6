/**
 * Between validate and plan, decrypt: the host turns each secret's age file
 * into its plaintext, in memory, with the identities of `age-identity`
 * (SPEC §6), and gives it the keyed digest the planner compares (HMAC under
 * the state dir's key, state/keyed.ts). Until here a secret is its age file:
 * read, validate and an off-host `plan` work from the ciphertext.
 *
 * `apply` and the agent require the decryption: an identity that is missing
 * or unsafe is this host's fault (exit 1, never backed off); a secret none of
 * its identities opens, or a corrupt one, is the revision's (65). `plan` only
 * tries: without a usable identity it plans from the ciphertext and says so.
 *
 * @module
 */
import { CoreOpsError, type Diagnostic, Exit } from "../errors.ts";
import { identityProblem, type IdentityReader, readIdentityFile } from "../host/identity.ts";
import type { Artifact } from "../model.ts";
import { rowOf } from "../settings/table.ts";
import { decryptAge, parseIdentities } from "../source/age_file.ts";
import { keyedDigest, newSecretKey } from "../state/keyed.ts";
import type { StateStore } from "../state/store.ts";
import type { NamedState } from "./naming.ts";

/** Where the host's identities come from. */
export interface SecretsContext {
  /** The `age-identity` setting. */
  identity: string;
  /** Reads and checks the identity file; the real file system's by default. */
  readIdentity?: IdentityReader;
}

/** What decrypting left for the rest of the run. */
export interface Decryption {
  named: NamedState;
  /**
   * The key of the keyed digests: the state dir's, or (a run that writes
   * nothing) its own. Read only when asked: a run without secrets never is.
   */
  key: () => Promise<Uint8Array>;
  /** Opens an age file again (rollback of a secret); `null` when it cannot. */
  open: (ciphertext: Uint8Array) => Promise<Uint8Array | null>;
}

/** Decrypts the secrets of `named`; `mode` says whether it must (apply) or may (plan). */
export async function decrypt(
  named: NamedState,
  mode: "require" | "try",
  ctx: { secrets?: SecretsContext; store: StateStore },
): Promise<Decryption> {
  const secrets = named.desired.artifacts.filter((a) => a.secret !== undefined);
  let read: Promise<Uint8Array> | undefined;
  const unopened = () => ({
    named,
    key: () => read ??= ctx.store.secretKey(false).then((k) => k ?? newSecretKey()),
    open: () => Promise.resolve(null),
  });
  if (secrets.length === 0) return unopened();

  const path = ctx.secrets?.identity ?? rowOf("age-identity").default;
  let identities: string[];
  try {
    identities = await readIdentities(path, ctx.secrets?.readIdentity ?? readIdentityFile);
  } catch (error) {
    if (mode === "require" || !(error instanceof CoreOpsError)) throw error;
    const why = error.diagnostics[0]?.message ?? error.message;
    return { ...unopened(), named: notDecrypted(named, secrets.length, why) };
  }

  const problems: Diagnostic[] = [];
  const plaintexts = new Map<Artifact, Uint8Array>();
  for (const a of named.desired.artifacts) {
    if (a.secret === undefined || a.secret.decrypted) continue;
    const result = await decryptAge(a.content, identities);
    if (!result.ok) {
      problems.push(
        result.problem === "recipients"
          ? {
            message: `secret encrypted for other recipients: no identity in ${path} ` +
              `(setting age-identity) decrypts it`,
            location: { file: a.source },
            hint: "encrypt it again for this host's recipient (age -R recipients), " +
              "or give this host the identity it was encrypted for",
          }
          : {
            message: `corrupt age file: ${result.detail}`,
            location: { file: a.source },
            hint: "encrypt it again with age -R <recipients file> and commit the output unchanged",
          },
      );
      continue;
    }
    plaintexts.set(a, result.plaintext);
  }
  if (problems.length > 0) throw new CoreOpsError(Exit.dataErr, "validation", problems);
  // Only now, with every secret opened, may apply create the key: nothing is written before.
  const key = await ctx.store.secretKey(mode === "require") ?? newSecretKey();
  const artifacts = named.desired.artifacts.map((a): Artifact => {
    const plaintext = plaintexts.get(a);
    if (plaintext === undefined || a.secret?.decrypted !== false) return a;
    return {
      ...a,
      content: plaintext,
      sha256: keyedDigest(key, plaintext),
      secret: { decrypted: true, ciphertext: a.content, ciphertextSha256: a.sha256 },
    };
  });
  return {
    named: { ...named, desired: { ...named.desired, artifacts } },
    key: () => Promise.resolve(key),
    open: async (ciphertext) => {
      const result = await decryptAge(ciphertext, identities);
      return result.ok ? result.plaintext : null;
    },
  };
}

/** The identities of the identity file at `path`; every problem is the host's, never the key. */
async function readIdentities(path: string, reader: IdentityReader): Promise<string[]> {
  const file = await reader(path);
  if (file.status === "missing") {
    throw identityProblem(
      path,
      "does not exist, and the revision has secrets",
      "provision the host's identity there (mode 0400, owned by root; see butane/), " +
        "or point age-identity at it",
    );
  }
  const parsed = parseIdentities(file.text);
  if (!parsed.ok) {
    throw identityProblem(
      path,
      `line ${parsed.line} is not an age identity (AGE-SECRET-KEY-1…)`,
      "the file holds age identities, one per line, as age-keygen writes them",
    );
  }
  if (parsed.identities.length === 0) {
    throw identityProblem(
      path,
      "holds no identity",
      "put the host's AGE-SECRET-KEY-1… line there (age-keygen -o)",
    );
  }
  return parsed.identities;
}

/** The state planned from the age files, with one warning saying why they were not decrypted. */
function notDecrypted(named: NamedState, count: number, why: string): NamedState {
  const warning = {
    message: `${count} secret${count === 1 ? "" : "s"} not decrypted (${why}): ` +
      "planned from the age files; a change of plaintext shows only where the identity is",
  };
  return {
    ...named,
    desired: { ...named.desired, warnings: [...named.desired.warnings, warning] },
  };
}
