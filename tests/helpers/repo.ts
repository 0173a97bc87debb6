/**
 * Test fixtures: source repositories written to temp dirs, and the same
 * repositories as in-memory trees for the pure loader.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import type { RepoTree, TreeEntry } from "../../src/tree.ts";

/** A repository as a map from repo-relative path to file content. */
export type Files = Record<string, string>;

/** A small valid multi-host repository most tests start from. */
export function baseRepo(): Files {
  return {
    "services/web/quadlet/web.container": [
      "[Container]",
      "Image=localhost/busybox:latest",
      "Volume=data.volume:/data",
      "Volume=/etc/web/app.conf:/app.conf:ro",
      "Network=app.network",
      "",
      "[Install]",
      "WantedBy=multi-user.target",
      "",
    ].join("\n"),
    "services/web/quadlet/data.volume": "[Volume]\n",
    "services/web/quadlet/app.network": "[Network]\n",
    "services/web/quadlet/web.container.d/10-mem.conf": "[Container]\nPodmanArgs=--memory=64m\n",
    "services/web/config/app.conf": "greeting=hello\n",
    "services/web/config/unrelated.txt": "not mounted\n",
    "services/echo/systemd/echo.socket": "[Socket]\nListenStream=7777\nAccept=yes\n",
    "services/echo/systemd/echo@.service": "[Service]\nExecStart=/bin/cat\nStandardInput=socket\n",
    "hosts/h1/host.yaml": "host: h1\nservices:\n  - web\n  - echo\n",
    "hosts/h2/host.yaml": "host: h2\nservices:\n  - echo\n",
  };
}

/** Writes `files` under a new temp dir and returns its path. */
export async function writeRepo(files: Files): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "core-ops-test-repo-" });
  await writeFiles(root, files);
  return root;
}

/** Writes `files` under `root`, creating directories as needed. */
export async function writeFiles(root: string, files: Files): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    await Deno.mkdir(dirname(full), { recursive: true });
    await Deno.writeTextFile(full, content);
  }
}

/** The repository as the tree reader would produce it, without touching disk. */
export function memoryTree(files: Files): RepoTree {
  const entries = new Map<string, TreeEntry>();
  const encoder = new TextEncoder();
  for (const [path, text] of Object.entries(files)) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      entries.set(dir, { type: "dir", path: dir });
    }
    const content = encoder.encode(text);
    entries.set(path, { type: "file", path, size: content.length, content, worldReadable: true });
  }
  return { entries: [...entries.values()], truncated: false };
}

/** Hex sha256 of a string, as the loader computes it. */
export function sha256(text: string): string {
  return createHash("sha256").update(new TextEncoder().encode(text)).digest("hex");
}

/** Runs git in `dir` with a fixed identity; throws on failure. */
export async function git(dir: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", {
    args: ["-C", dir, "-c", "user.name=test", "-c", "user.email=test@example.invalid", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`git ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout).trim();
}

/** Makes `dir` a git repository with everything committed; returns the commit. */
export async function commitAll(dir: string): Promise<string> {
  await git(dir, "init", "--quiet", "--initial-branch=main");
  await git(dir, "add", "-A");
  await git(dir, "commit", "--quiet", "-m", "test");
  return await git(dir, "rev-parse", "HEAD");
}

/** The ownership manifest apply would have written after deploying `artifacts`. */
export function manifestOf<K extends string>(
  artifacts: readonly {
    destination: string;
    sha256: string;
    service: string;
    kind: K;
    unit: string | null;
  }[],
  revision = "r1",
) {
  return {
    schema_version: 1 as const,
    files: artifacts.map((a) => ({
      path: a.destination,
      sha256: a.sha256,
      service: a.service,
      kind: a.kind,
      unit: a.unit,
      revision,
    })),
  };
}
