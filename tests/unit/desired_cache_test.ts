/** The loaded desired state is reused only under the same key, and only when every byte checks out. */
import assert from "node:assert/strict";
import { DIRS } from "../helpers/layout.ts";
import {
  cachedLoad,
  DESIRED_CACHE_FILE,
  type DesiredCacheKey,
} from "../../src/run/desired_cache.ts";
import type { DesiredState } from "../../src/model.ts";
import { loadDesiredState } from "../../src/source/layout.ts";
import { FakeFiles } from "../helpers/fakes.ts";
import { memoryTree } from "../helpers/repo.ts";

const PATH = `/state/${DESIRED_CACHE_FILE}`;

/** A repo with a quadlet, a host drop-in, a config file and a binary one that is not world-readable. */
function desired(image = "a"): DesiredState {
  const tree = memoryTree({
    "services/web/quadlet/web.container": `[Container]\nImage=${image}\n`,
    "services/web/config/app.conf": "x = 1\n",
    "services/web/config/blob.bin": "",
    "hosts/h1/host.yaml": "host: h1\nservices: [web]\n",
    "hosts/h1/web/quadlet/web.container.d/10-h.conf": "[Container]\nLabel=h=1\n",
  });
  const blob = new Uint8Array([0, 255, 10, 13]);
  tree.entries = tree.entries.map((e) =>
    e.type === "file" && e.path.endsWith("blob.bin")
      ? { ...e, content: blob, size: blob.length, worldReadable: false }
      : e
  );
  return loadDesiredState(tree, { host: "h1", dirs: DIRS });
}

function key(over: Partial<DesiredCacheKey> = {}): DesiredCacheKey {
  return {
    commit: "1".repeat(40),
    host: "h1",
    dirs: DIRS,
    configRoots: null,
    build: "0.1.0\n/usr/bin/core-ops:1:2:3",
    ...over,
  };
}

/** A loader that counts its calls. */
function counting(image = "a") {
  const counter = {
    loads: 0,
    load: () => {
      counter.loads++;
      return Promise.resolve(desired(image));
    },
  };
  return counter;
}

Deno.test("desired cache: same key → the same state without loading; the file is 0600", async () => {
  const files = new FakeFiles();
  const loader = counting();
  const first = await cachedLoad(loader.load, key(), "/state", files)();
  const again = await cachedLoad(loader.load, key(), "/state", files)();
  assert.equal(loader.loads, 1);
  assert.deepEqual(again, first);
  assert.deepEqual(again, desired());
  assert.equal(files.files.get(PATH)?.mode, 0o600);
  const blob = again.artifacts.find((a) => a.source.endsWith("blob.bin"));
  assert.deepEqual(blob?.content, new Uint8Array([0, 255, 10, 13]), "binary bytes survive");
  assert.equal(blob?.mode, 0o600);
});

Deno.test("desired cache: any part of the key changed → loaded again", async () => {
  const changes: Partial<DesiredCacheKey>[] = [
    { commit: "2".repeat(40) },
    { host: "h2" },
    { dirs: { ...DIRS, quadletDir: "/other" } },
    { dirs: { ...DIRS, systemdUnitDir: "/other" } },
    { dirs: { ...DIRS, configDir: "/other" } },
    { configRoots: ["web"] },
    { build: "0.1.0\n/usr/bin/core-ops:1:2:4" },
  ];
  for (const change of changes) {
    const files = new FakeFiles();
    const loader = counting();
    await cachedLoad(loader.load, key(), "/state", files)();
    await cachedLoad(loader.load, key(change), "/state", files)();
    assert.equal(loader.loads, 2, JSON.stringify(change));
    // The new key replaced the old one.
    await cachedLoad(loader.load, key(change), "/state", files)();
    assert.equal(loader.loads, 2, JSON.stringify(change));
  }
});

Deno.test("desired cache: a damaged, tampered or foreign cache is ignored and replaced", async () => {
  const damage: [string, (text: string) => string][] = [
    ["truncated", (t) => t.slice(0, t.length / 2)],
    ["not JSON", () => "garbage"],
    ["wrong shape", (t) => t.replace('"services"', '"servicez"')],
    // Same key, other bytes under an unchanged digest: must never be deployed.
    ["content swapped", (t) => t.replace(btoa("x = 1\n"), btoa("x = 2\n"))],
    ["bad base64", (t) => t.replace(btoa("x = 1\n"), "!!!")],
    ["digest altered", (t) => t.replace(/"digest":"[0-9a-f]{64}"/, `"digest":"${"0".repeat(64)}"`)],
  ];
  for (const [what, mangle] of damage) {
    const files = new FakeFiles();
    const loader = counting();
    await cachedLoad(loader.load, key(), "/state", files)();
    const text = new TextDecoder().decode(files.files.get(PATH)!.content);
    const mangled = mangle(text);
    assert.notEqual(mangled, text, what);
    await files.write(PATH, new TextEncoder().encode(mangled), 0o600);
    const got = await cachedLoad(loader.load, key(), "/state", files)();
    assert.equal(loader.loads, 2, what);
    assert.deepEqual(got, desired(), what);
    await cachedLoad(loader.load, key(), "/state", files)();
    assert.equal(loader.loads, 2, `${what}: replaced by a good cache`);
  }
});

Deno.test("desired cache: a refused load is not kept (it is judged again every time)", async () => {
  const files = new FakeFiles();
  let loads = 0;
  const refuse = () => {
    loads++;
    return Promise.reject(new Error("layout refused"));
  };
  for (let i = 0; i < 2; i++) {
    await assert.rejects(cachedLoad(refuse, key(), "/state", files)(), /layout refused/);
  }
  assert.equal(loads, 2);
  assert.equal(files.files.has(PATH), false);
});
