/**
 * The mechanism user (rootless) services build on (SPEC §7), proven without
 * core-ops: root writes a quadlet to `/etc/containers/systemd/users/<uid>/`,
 * Podman's user generator turns it into a unit of that login's own systemd,
 * and `systemctl --user -M <login>@` drives it. The container runs as the
 * login, reads a config file only the login may read, and serves it through
 * rootless networking (pasta); journald files its output under the login's
 * uid and user unit. Two more show what lingering changes: a linger file
 * written before boot (as a Butane config does) brings the manager up at
 * boot, and without lingering the manager lives only as long as a session.
 *
 * Facts these pin down for the agent: the system generator ignores `users/`,
 * a root `-user` dry-run reads `users/0` unless `QUADLET_UNIT_DIRS` names the
 * staged set, images live in each login's own storage, and `-M <login>@`
 * does not refuse a login without lingering: it starts a manager that goes
 * away again with the call's session, taking the started units with it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { run } from "../lib/proc.ts";
import { TEST_IMAGE, TEST_IMAGE_TAR } from "../lib/rootfs.ts";
import { describe, type Login, type Scenario, type ScenarioContext } from "../lib/scenario.ts";

const QUADLET = "/usr/libexec/podman/quadlet";
const USER_GENERATOR = "/usr/lib/systemd/user-generators/podman-user-generator";
/** Where rootless quadlets of login `uid` go (the user generator's search path). */
const userDir = (uid: number) => `/etc/containers/systemd/users/${uid}`;

const PORT = 18080;
const CONFIG = "/srv/alice-web/index.html";
const GREETING = "served rootless from alice's config\n";

/**
 * httpd serving the login's config file, published on the guest's loopback.
 * httpd as PID 1 would ignore SIGTERM (and die by SIGKILL, failing the unit
 * on stop); the shell exits on it, which ends the container's pid namespace.
 */
const WEB = `[Unit]
Description=e2e rootless web

[Container]
Image=${TEST_IMAGE}
Exec=/bin/sh -c 'httpd -f -v -p 8080 -h /www & trap "exit 0" TERM; wait'
Volume=${CONFIG}:/www/index.html:ro
PublishPort=127.0.0.1:${PORT}:8080
`;

/** A container that stops at once on SIGTERM (as PID 1, `sleep` would wait out the 10 s). */
const NAP =
  `[Container]\nImage=${TEST_IMAGE}\nExec=/bin/sh -c 'trap "exit 0" TERM; while :; do sleep 1; done'\n`;

/** `Uid:` of /proc/<pid>/status: real, effective, saved, filesystem. */
async function uids(t: ScenarioContext, pid: number): Promise<string[]> {
  const status = await t.readFile(`/proc/${pid}/status`);
  const match = /^Uid:\s+(.*)$/m.exec(status);
  assert.ok(match, `no Uid line in /proc/${pid}/status`);
  return match[1].trim().split(/\s+/);
}

/** Polls until `user@<uid>.service` reports `want` (a lingering-less manager stops by itself). */
async function waitUserManager(t: ScenarioContext, login: Login, want: string): Promise<void> {
  const unit = `user@${login.uid}.service`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const state = (await t.exec(["systemctl", "is-active", unit])).stdout.trim();
    if (state === want) return;
    assert.ok(Date.now() < deadline, `${unit} is still ${state}, not ${want}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Rootless quadlets under a login's own systemd. */
export const rootlessScenarios: Scenario[] = [
  {
    name:
      "rootless: a login made before boot with a linger file (as Butane does) has its manager at boot and its home",
    async prepareRoot(root) {
      // What Ignition does for a Butane `passwd.users` entry plus a file at the linger path.
      const useradd = await run("useradd", [
        "--root",
        root,
        "--create-home",
        "--user-group",
        "carol",
      ]);
      assert.equal(useradd.code, 0, describe(["useradd", "--root", root], useradd));
      await Deno.mkdir(`${root}/var/lib/systemd/linger`, { recursive: true });
      await Deno.writeTextFile(`${root}/var/lib/systemd/linger/carol`, "");
    },
    async run(t) {
      const uid = (await t.ok(["id", "-u", "carol"])).stdout.trim();
      const login: Login = { login: "carol", uid: Number(uid), home: "/home/carol" };
      // logind reads the linger dir when it starts and starts the manager by itself.
      await waitUserManager(t, login, "active");
      const home = await t.ok(["stat", "-c", "%U %a", "/home/carol"]);
      assert.equal(home.stdout.trim(), "carol 700", "the home made before boot is missing");
      const running = await t.userSystemctl("carol", ["is-system-running"]);
      assert.equal(running.stdout.trim(), "running", describe(["is-system-running"], running));
      await t.importTestImage(login);
      const images = await t.asLogin(login, ["podman", "image", "exists", TEST_IMAGE]);
      assert.equal(images.code, 0, describe(["podman", "image", "exists"], images));
    },
  },
  {
    name:
      "rootless: a quadlet in /etc/containers/systemd/users/<uid> runs as the login under systemctl --user -M, networked by pasta",
    async run(t) {
      // What every guest provides for rootless Podman (lib/guest.ts, lib/rootfs.ts).
      assert.equal((await t.ok(["stat", "-c", "%a", "/dev/net/tun"])).stdout.trim(), "666");
      await t.assertUnit("network-online.target", { ActiveState: "active" });
      const homeFs = await t.ok(["findmnt", "-n", "-o", "FSTYPE", "--target", "/home"]);
      assert.notEqual(homeFs.stdout.trim(), "overlay", "/home must not be the overlayfs root");

      const alice = await t.createLogin("alice", { linger: true });
      assert.equal(alice.home, "/home/alice");
      assert.ok(alice.uid >= 1000, `uid ${alice.uid}`);
      // Root's images are not the login's: rootless storage (in the home) starts empty.
      const before = await t.asLogin(alice, ["podman", "image", "exists", TEST_IMAGE]);
      assert.equal(before.code, 1, describe(["podman", "image", "exists"], before));
      await t.importTestImage(alice);
      const graphRoot = await t.asLogin(alice, [
        "podman",
        "info",
        "--format",
        "{{.Store.GraphRoot}}",
      ]);
      assert.equal(graphRoot.stdout.trim(), `${alice.home}/.local/share/containers/storage`);

      // A config file only the login may read; the container's root is the login.
      await t.writeFile(CONFIG, { content: GREETING, mode: 0o600 });
      await t.ok(["chown", `${alice.login}:${alice.login}`, CONFIG]);
      await t.writeFile(`${userDir(alice.uid)}/web.container`, WEB);

      // The system generator leaves users/ alone: no system unit from a user quadlet.
      const system = await t.ok([QUADLET, "-dryrun"]);
      assert.doesNotMatch(system.stdout, /---web\.service---/);
      // A root -user dry-run reads root's own users/0, not the login's dir…
      const rootUser = await t.exec([QUADLET, "-user", "-dryrun"]);
      assert.doesNotMatch(rootUser.stdout, /---web\.service---/);
      assert.match(rootUser.stderr, /\/etc\/containers\/systemd\/users\/0\b/);
      // …so the staged set is named with QUADLET_UNIT_DIRS; both entry points accept it.
      await t.writeFile("/tmp/staged/web.container", WEB);
      for (const generator of [[QUADLET, "-user", "-dryrun"], [USER_GENERATOR, "--dryrun"]]) {
        const dry = await t.ok(generator, { env: { QUADLET_UNIT_DIRS: "/tmp/staged" } });
        assert.match(dry.stdout, /---web\.service---/);
        // User units wait for the system's network through Podman's user-level helper.
        assert.match(dry.stdout, /^Wants=podman-user-wait-network-online\.service$/m);
        assert.doesNotMatch(dry.stdout, /^Wants=network-online\.target$/m);
      }
      // The login itself sees its users/<uid> dir without any variable.
      const own = await t.asLogin(alice, [QUADLET, "-user", "-dryrun"]);
      assert.equal(own.code, 0, describe([QUADLET, "-user", "-dryrun"], own));
      assert.match(own.stdout, /---web\.service---/);

      const reload = await t.userSystemctl(alice, ["daemon-reload"]);
      assert.equal(reload.code, 0, describe(["systemctl", "--user", "daemon-reload"], reload));
      const start = await t.userSystemctl(alice, ["start", "web.service"]);
      assert.equal(start.code, 0, describe(["systemctl", "--user", "start", "web.service"], start));
      const props = await t.userUnit(alice, "web.service", [
        "LoadState",
        "ActiveState",
        "SubState",
        "MainPID",
        "SourcePath",
        "FragmentPath",
      ]);
      const { MainPID, ...state } = props;
      assert.deepEqual(state, {
        LoadState: "loaded",
        ActiveState: "active",
        SubState: "running",
        SourcePath: `${userDir(alice.uid)}/web.container`,
        FragmentPath: `/run/user/${alice.uid}/systemd/generator/web.service`,
      });
      await t.assertUnit(`user@${alice.uid}.service`, { ActiveState: "active" });
      const wait = await t.userUnit(alice, "podman-user-wait-network-online.service", [
        "ActiveState",
        "Result",
      ]);
      assert.deepEqual(wait, { ActiveState: "active", Result: "success" });

      // MainPID is the host pid of conmon, which runs as the login; so does the container.
      const mainPid = Number(MainPID);
      assert.ok(mainPid > 0, `MainPID ${MainPID}`);
      assert.match(await t.readFile(`/proc/${mainPid}/comm`), /^conmon$/m);
      const uid = String(alice.uid);
      assert.deepEqual(await uids(t, mainPid), [uid, uid, uid, uid]);
      const inspect = await t.asLogin(alice, [
        "podman",
        "inspect",
        "--format",
        "{{.State.Pid}}",
        "systemd-web",
      ]);
      assert.equal(inspect.code, 0, describe(["podman", "inspect"], inspect));
      const containerPid = Number(inspect.stdout.trim());
      assert.deepEqual(await uids(t, containerPid), [uid, uid, uid, uid]);
      // Inside, it is root of a user namespace whose root is the login.
      const uidMap = (await t.readFile(`/proc/${containerPid}/uid_map`)).trim().split(/\s+/);
      assert.deepEqual(uidMap.slice(0, 3), ["0", uid, "1"]);

      // Port forwarding by pasta, and the config file read by the login's container.
      const http = await t.ok([
        "bash",
        "-c",
        `exec 3<>/dev/tcp/127.0.0.1/${PORT}; printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3`,
      ]);
      assert.match(http.stdout, /^HTTP\/1\.[01] 200 /);
      assert.ok(http.stdout.endsWith(GREETING), http.stdout);

      // The container's own output is filed under the login's uid and user unit.
      const lines = await t.journal([`_UID=${alice.uid}`, "_SYSTEMD_USER_UNIT=web.service"]);
      const served = lines.filter((e) =>
        e.CONTAINER_NAME === "systemd-web" && /response:200/.test(String(e.MESSAGE))
      );
      assert.ok(served.length > 0, JSON.stringify(lines.map((e) => e.MESSAGE)));

      const stop = await t.userSystemctl(alice, ["stop", "web.service"]);
      assert.equal(stop.code, 0, describe(["systemctl", "--user", "stop", "web.service"], stop));
      const after = await t.userUnit(alice, "web.service", ["ActiveState", "MainPID"]);
      assert.deepEqual(after, { ActiveState: "inactive", MainPID: "0" });
      const left = await t.asLogin(alice, ["podman", "ps", "-a", "--format", "{{.Names}}"]);
      assert.equal(left.stdout, "", "the stopped unit left a container behind");
    },
  },
  {
    name:
      "rootless: without lingering there is no user manager; systemctl --user -M starts one that dies with its session",
    async run(t) {
      const bob = await t.createLogin("bob", { linger: false });
      assert.equal(await t.exists(`/var/lib/systemd/linger/${bob.login}`), false);
      await t.assertUnit(`user@${bob.uid}.service`, { ActiveState: "inactive" });

      // A login that does not exist: the bridge to its bus cannot start.
      const none = await t.userSystemctl("nosuchlogin", ["show", "--property=ActiveState", "x"]);
      assert.equal(none.code, 1, describe(["systemctl", "--user", "-M", "nosuchlogin@"], none));
      assert.match(none.stderr, /Transport endpoint is not connected/);

      // An existing login without lingering is not refused: -M opens a PAM session for it,
      // which starts its manager for as long as the session (the call) lasts.
      await t.writeFile(`${userDir(bob.uid)}/nap.container`, NAP);
      const reload = await t.userSystemctl(bob, ["daemon-reload"]);
      assert.equal(reload.code, 0, describe(["systemctl", "--user", "-M", "bob@"], reload));
      await t.assertUnit(`user@${bob.uid}.service`, { ActiveState: "active" });
      // Each -M call brings the manager up for itself, and so does systemd-run's: the image
      // goes into bob's storage from inside his manager, its exit code passed through.
      const importArgs = ["podman", "image", "import", "-q", TEST_IMAGE_TAR, TEST_IMAGE];
      const imported = await t.exec([
        "systemd-run",
        "--user",
        "-M",
        `${bob.login}@`,
        "--wait",
        "--pipe",
        "--quiet",
        ...importArgs,
      ]);
      assert.equal(imported.code, 0, describe(importArgs, imported));
      assert.match(imported.stdout, /^sha256:[0-9a-f]{64}$/m);
      const start = await t.userSystemctl(bob, ["start", "nap.service"]);
      assert.equal(start.code, 0, describe(["systemctl", "--user", "start", "nap.service"], start));
      assert.equal((await t.userUnit(bob, "nap.service", ["ActiveState"])).ActiveState, "active");

      // With no session left and no lingering, logind stops the manager, units and all.
      await waitUserManager(t, bob, "inactive");
      assert.deepEqual(await t.userUnit(bob, "nap.service", ["ActiveState", "MainPID"]), {
        ActiveState: "inactive",
        MainPID: "0",
      });
    },
  },
];
