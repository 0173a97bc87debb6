/** Accepted forms of the layout (SPEC §1), through the pure loader. */
import assert from "node:assert/strict";
import { DIRS } from "../helpers/layout.ts";
import { CoreOpsError } from "../../src/errors.ts";
import type { DesiredState } from "../../src/model.ts";
import { loadDesiredState } from "../../src/source/layout.ts";
import type { RepoTree } from "../../src/tree.ts";
import { baseRepo, type Files, memoryTree, sha256 } from "../helpers/repo.ts";

function load(files: Files, host: string | null = "h1", tree?: RepoTree): DesiredState {
  return loadDesiredState(tree ?? memoryTree(files), { host, dirs: DIRS });
}

function rows(state: DesiredState): string[] {
  return state.artifacts.map((a) => `${a.kind} ${a.source} -> ${a.destination} [${a.unit}]`);
}

Deno.test("host selection deploys the listed services in host.yaml order", () => {
  const files = baseRepo();
  files["hosts/h1/host.yaml"] = "host: h1\nservices: [echo, web]\n";
  const state = load(files);
  assert.equal(state.host, "h1");
  assert.deepEqual(state.services, ["echo", "web"]);
  assert.equal(state.artifacts[0].service, "echo");
});

Deno.test("every artifact gets its destination, kind and unit", () => {
  assert.deepEqual(rows(load(baseRepo())), [
    "network services/web/quadlet/app.network -> /q/app.network [app-network.service]",
    "volume services/web/quadlet/data.volume -> /q/data.volume [data-volume.service]",
    "container services/web/quadlet/web.container -> /q/web.container [web.service]",
    "dropin services/web/quadlet/web.container.d/10-mem.conf -> /q/web.container.d/10-mem.conf [web.service]",
    "config services/web/config/app.conf -> /etc/web/app.conf [null]",
    "config services/web/config/unrelated.txt -> /etc/web/unrelated.txt [null]",
    "socket services/echo/systemd/echo.socket -> /s/echo.socket [echo.socket]",
    "service services/echo/systemd/echo@.service -> /s/echo@.service [echo@.service]",
  ]);
});

Deno.test("a repo without hosts/ deploys every service, lexicographically", () => {
  const files = baseRepo();
  delete files["hosts/h1/host.yaml"];
  delete files["hosts/h2/host.yaml"];
  const state = load(files, null);
  assert.equal(state.host, null);
  assert.deepEqual(state.services, ["echo", "web"]);
});

Deno.test("host overlay: drop-ins after base drop-ins, config replaced and added", () => {
  const files = baseRepo();
  files["hosts/h1/web/quadlet/web.container.d/50-host.conf"] = "[Container]\nPublishPort=80:80\n";
  files["hosts/h1/web/config/app.conf"] = "greeting=host\n";
  files["hosts/h1/web/config/extra/new.conf"] = "added\n";
  files["hosts/h1/echo/systemd/echo.socket.d/10-port.conf"] = "[Socket]\nListenStream=8888\n";
  const state = load(files);
  const web = state.artifacts.filter((a) => a.service === "web").map((a) =>
    `${a.origin} ${a.destination}`
  );
  assert.deepEqual(web, [
    "service /q/app.network",
    "service /q/data.volume",
    "service /q/web.container",
    "service /q/web.container.d/10-mem.conf",
    "host /q/web.container.d/50-host.conf",
    "host /etc/web/app.conf",
    "host /etc/web/extra/new.conf",
    "service /etc/web/unrelated.txt",
  ]);
  const app = state.artifacts.find((a) => a.destination === "/etc/web/app.conf")!;
  assert.equal(app.source, "hosts/h1/web/config/app.conf");
  assert.equal(app.sha256, sha256("greeting=host\n"));
  const socketDropin = state.artifacts.find((a) => a.source.endsWith("10-port.conf"))!;
  assert.equal(socketDropin.unit, "echo.socket");
  assert.equal(socketDropin.destination, "/s/echo.socket.d/10-port.conf");
});

Deno.test("service.yaml config-root moves the config root; config/etc/foo is an ordinary path", () => {
  const files = baseRepo();
  files["services/web/service.yaml"] = "config-root: nginx\n";
  files["services/web/config/etc/foo"] = "x\n";
  const dests = load(files).artifacts.filter((a) => a.kind === "config").map((a) => a.destination);
  assert.deepEqual(dests, [
    "/etc/nginx/app.conf",
    "/etc/nginx/etc/foo",
    "/etc/nginx/unrelated.txt",
  ]);
});

Deno.test("an empty service.yaml keeps the defaults", () => {
  const files = baseRepo();
  files["services/web/service.yaml"] = "";
  assert.ok(load(files).artifacts.some((a) => a.destination === "/etc/web/app.conf"));
});

Deno.test("READMEs at any level, dotfiles and reserved top-level names are ignored", () => {
  const files = baseRepo();
  Object.assign(files, {
    "README.md": "x",
    "LICENSE": "x",
    ".gitignore": "x",
    "_drafts/services/x/quadlet/a.container": "x",
    "services/README": "x",
    "services/web/README.md": "x",
    "services/web/.gitkeep": "",
    "services/web/quadlet/README.txt": "x",
    "services/web/quadlet/.hidden.container": "x",
    "services/web/quadlet/web.container.d/README.md": "x",
    "services/web/config/README.md": "x",
    "hosts/README.md": "x",
    "hosts/h1/README": "x",
  });
  assert.deepEqual(rows(load(files)), rows(load(baseRepo())));
});

Deno.test("unknown file kinds in payload dirs are skipped with a warning", () => {
  const files = baseRepo();
  files["services/web/quadlet/notes.txt"] = "x";
  files["services/web/quadlet/web.container.d/10.conf.bak"] = "x";
  const state = load(files);
  assert.deepEqual(rows(state), rows(load(baseRepo())));
  assert.deepEqual(state.warnings.map((w) => w.file), [
    "services/web/quadlet/notes.txt",
    "services/web/quadlet/web.container.d/10.conf.bak",
  ]);
});

Deno.test("every quadlet and native kind is accepted and named after Podman", () => {
  const files: Files = {
    "services/all/quadlet/a.container": "[Container]\nImage=x\n",
    "services/all/quadlet/b.volume": "[Volume]\n",
    "services/all/quadlet/c.network": "[Network]\n",
    "services/all/quadlet/d.pod": "[Pod]\n",
    "services/all/quadlet/e.kube": "[Kube]\nYaml=/etc/all/e.yaml\n",
    "services/all/quadlet/f.image": "[Image]\nImage=x\n",
    "services/all/quadlet/g.build": "[Build]\nImageTag=x\n",
    "services/all/systemd/h.socket": "[Socket]\n",
    "services/all/systemd/i.service": "[Service]\n",
    "services/all/systemd/j.timer": "[Timer]\n",
    "services/all/systemd/k.target": "[Unit]\n",
    "services/all/systemd/l.mount": "[Mount]\n",
    "services/all/systemd/m.path": "[Path]\n",
  };
  const units = load(files, null).artifacts.map((a) => `${a.kind}:${a.unit}`);
  assert.deepEqual(units, [
    "container:a.service",
    "volume:b-volume.service",
    "network:c-network.service",
    "pod:d-pod.service",
    "kube:e.service",
    "image:f-image.service",
    "build:g-build.service",
    "socket:h.socket",
    "service:i.service",
    "timer:j.timer",
    "target:k.target",
    "mount:l.mount",
    "path:m.path",
  ]);
});

Deno.test("ServiceName= in the quadlet, a base drop-in or a host drop-in names the unit", () => {
  const files = baseRepo();
  files["services/web/quadlet/data.volume"] = "[Volume]\nServiceName=storage\n";
  assert.equal(
    load(files).artifacts.find((a) => a.source.endsWith("data.volume"))!.unit,
    "storage.service",
  );

  files["services/web/quadlet/web.container.d/20-name.conf"] =
    "[Container]\nServiceName=frontend\n";
  let web = load(files).artifacts.filter((a) =>
    a.service === "web" && a.source.includes("web.container")
  );
  assert.deepEqual(new Set(web.map((a) => a.unit)), new Set(["frontend.service"]));

  // Drop-ins apply by file name across base and host: 30-host.conf comes last.
  files["hosts/h1/web/quadlet/web.container.d/30-host.conf"] =
    "[Container]\nServiceName=edge-web\n";
  web = load(files).artifacts.filter((a) =>
    a.service === "web" && a.source.includes("web.container")
  );
  assert.deepEqual(new Set(web.map((a) => a.unit)), new Set(["edge-web.service"]));

  // ServiceName in another section does not count.
  const other = baseRepo();
  other["services/web/quadlet/app.network"] = "[Unit]\nServiceName=nope\n[Network]\n";
  assert.equal(
    load(other).artifacts.find((a) => a.source.endsWith("app.network"))!.unit,
    "app-network.service",
  );
});

Deno.test("config files that are not world-readable are deployed 0600, the rest 0644", () => {
  const tree = memoryTree(baseRepo());
  for (const e of tree.entries) {
    if (e.type === "file" && e.path.endsWith("app.conf")) e.worldReadable = false;
  }
  const modes = load({}, "h1", tree).artifacts.map((a) => `${a.destination} ${a.mode.toString(8)}`);
  assert.ok(modes.includes("/etc/web/app.conf 600"));
  assert.ok(modes.includes("/etc/web/unrelated.txt 644"));
  assert.ok(modes.includes("/q/web.container 644"));
});

Deno.test("the loaded state does not depend on the order the walk produced", () => {
  const files = baseRepo();
  files["hosts/h1/web/quadlet/web.container.d/50-host.conf"] = "[Container]\n";
  files["hosts/h1/web/config/z/y.conf"] = "y";
  const tree = memoryTree(files);
  const expected = JSON.stringify(rows(load({}, "h1", tree)));
  let seed = 7;
  for (let round = 0; round < 20; round++) {
    const shuffled = [...tree.entries];
    for (let i = shuffled.length - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const j = seed % (i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    assert.equal(
      JSON.stringify(rows(load({}, "h1", { entries: shuffled, truncated: false }))),
      expected,
    );
  }
});

Deno.test("loader reports every problem at once", () => {
  const files = baseRepo();
  files["services/web/quadlet/x.socket"] = "";
  files["services/web/service.yaml"] = "nope: 1\n";
  files["quadlets/a.container"] = "";
  try {
    load(files);
    assert.fail("expected a rejection");
  } catch (error) {
    assert.ok(error instanceof CoreOpsError);
    assert.equal(error.exitCode, 65);
    assert.deepEqual(error.diagnostics.map((d) => d.location?.file).sort(), [
      "quadlets/",
      "services/web/quadlet/x.socket",
      "services/web/service.yaml",
    ]);
  }
});

Deno.test("an unknown host and a missing host id are rejected with the known hosts", () => {
  assert.throws(
    () => load(baseRepo(), "h9"),
    (e: unknown) =>
      e instanceof CoreOpsError && e.exitCode === 65 && /unknown host "h9"/.test(e.message) &&
      e.diagnostics[0].hint === "known hosts: h1, h2",
  );
  assert.throws(
    () => load(baseRepo(), null),
    (e: unknown) => e instanceof CoreOpsError && /no host id/.test(e.message),
  );
});

Deno.test("a large file outside services/ and hosts/ is not judged", () => {
  const tree = memoryTree(baseRepo());
  tree.entries.push({
    type: "file",
    path: "manual.pdf",
    size: 5 * 1024 * 1024,
    content: null,
    worldReadable: true,
  });
  assert.deepEqual(rows(load({}, "h1", tree)), rows(load(baseRepo())));
});
