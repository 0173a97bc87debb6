/**
 * Part 5 of the bench: downtime of a container whose image changes, seen from
 * outside (the longest gap between two successful HTTP answers of the
 * container, polled every 20 ms inside the test host), in three ways:
 *
 * - floor: `systemctl restart` of the container, its image already present;
 * - as before issue 19: the new quadlet written, `daemon-reload`, `systemctl
 *   restart` — the container's own start pulls the image, so the service is
 *   down for the pull;
 * - `core-ops apply`, which pulls first (SPEC §9) while the old one serves.
 *
 * The image comes from a real registry (Debian's `docker-registry`, its
 * binary taken from the .deb fetched with `apt-get download` on this machine
 * and copied into the test host) behind a throttled TCP proxy
 * (`downtime-guest.ts`), so a pull of the new image takes ≥ 10 s.
 *
 * @module
 */
import { loadConfig } from "../../tests/e2e/lib/config.ts";
import type { Guest } from "../../tests/e2e/lib/guest.ts";
import { TEST_IMAGE } from "../../tests/e2e/lib/rootfs.ts";
import { type Row, summarize } from "./stats.ts";
import { BENCH_GIT_IDENTITY } from "./repo.ts";

const DENO = "/usr/local/lib/core-ops/bin/deno";
const HELPER = "/usr/local/libexec/bench-downtime.ts";
const REPO = "/srv/bench-pull-repo";
const QUADLET = "/etc/containers/systemd/web.container";
/** The registry, and the slow link in front of it that every pull goes through. */
const REGISTRY = "127.0.0.1:5000";
const SLOW = "127.0.0.1:5001";
/** Size of the new image's extra layer, and the link's rate: 192 MiB at 16 MiB/s ≈ 12 s. */
const LAYER_MIB = 192;
const RATE = 16 * 1024 * 1024;
/** What the container serves (busybox httpd on the host network). */
const WEB_URL = "http://127.0.0.1:8080/";

type Say = (line: string) => void;

class PullHost {
  constructor(readonly guest: Guest) {}

  async ok(args: readonly string[], timeoutMs = 300_000): Promise<string> {
    const r = await this.guest.exec(args, { timeoutMs });
    if (r.code !== 0) {
      throw new Error(`\`${args.join(" ")}\` exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    }
    return r.stdout;
  }

  async write(path: string, text: string, mode = 0o644): Promise<void> {
    const full = `${this.guest.root}${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, text, { mode });
  }
}

/** The registry binary from Debian's package, fetched once into the bench cache. */
async function registryBinary(): Promise<string> {
  const dir = `${(await loadConfig()).cacheDir}/docker-registry`;
  const binary = `${dir}/root/usr/bin/docker-registry`;
  try {
    await Deno.stat(binary);
    return binary;
  } catch {
    await Deno.mkdir(dir, { recursive: true });
  }
  for (const [cmd, args] of [["apt-get", ["download", "docker-registry"]]] as const) {
    const out = await new Deno.Command(cmd, { args: [...args], cwd: dir }).output();
    if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed`);
  }
  const deb = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".deb"))!.name;
  const x = await new Deno.Command("dpkg-deb", { args: ["-x", `${dir}/${deb}`, `${dir}/root`] })
    .output();
  if (!x.success) throw new Error("dpkg-deb -x failed");
  return binary;
}

function container(version: string): string {
  return `[Unit]\nDescription=bench web (${version})\n\n[Container]\n` +
    `Image=${SLOW}/app:${version}\nNetwork=host\n` +
    `Exec=/bin/httpd -f -p 127.0.0.1:8080 -h /www\n\n[Install]\nWantedBy=multi-user.target\n`;
}

async function setUp(h: PullHost, say: Say): Promise<void> {
  say("bench: 5 registry, slow link and images in the test host");
  await Deno.copyFile(await registryBinary(), `${h.guest.root}/usr/local/bin/docker-registry`);
  await Deno.chmod(`${h.guest.root}/usr/local/bin/docker-registry`, 0o755);
  await h.write(
    "/etc/bench-registry.yml",
    `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/bench-registry\n` +
      `http:\n  addr: ${REGISTRY}\n`,
  );
  await h.write(
    "/etc/containers/registries.conf.d/bench.conf",
    `[[registry]]\nlocation = "${REGISTRY}"\ninsecure = true\n\n` +
      `[[registry]]\nlocation = "${SLOW}"\ninsecure = true\n`,
  );
  await h.write(HELPER, await Deno.readTextFile(new URL("./downtime-guest.ts", import.meta.url)));
  await h.ok([
    "systemd-run",
    "--unit=bench-registry.service",
    "/usr/local/bin/docker-registry",
    "serve",
    "/etc/bench-registry.yml",
  ]);
  await h.ok([
    "systemd-run",
    "--unit=bench-slow-link.service",
    "--setenv=DENO_DIR=/var/cache/bench-deno",
    DENO,
    "run",
    "--quiet",
    "--allow-net=127.0.0.1",
    HELPER,
    "proxy",
    "5001",
    "5000",
    String(RATE),
  ]);
  for (const version of ["v1", "v2"]) {
    const ctx = `/srv/bench-image-${version}`;
    await h.write(`${ctx}/www/index.html`, `${version}\n`);
    const extra = version === "v2" ? "COPY big.bin /big.bin\n" : "";
    if (version === "v2") {
      await h.ok(["sh", "-c", `head -c ${LAYER_MIB}M /dev/urandom > ${ctx}/big.bin`]);
    }
    await h.write(`${ctx}/Containerfile`, `FROM ${TEST_IMAGE}\nCOPY www /www\n${extra}`);
    await h.ok(["podman", "build", "-q", "-t", `${REGISTRY}/app:${version}`, ctx]);
    await h.ok(["podman", "push", "-q", "--tls-verify=false", `${REGISTRY}/app:${version}`]);
    await h.ok(["podman", "rmi", `${REGISTRY}/app:${version}`]);
  }
  await h.ok(["git", "init", "-q", "-b", "main", REPO]);
}

/** v1 deployed by core-ops and answering, v2 nowhere but in the registry. */
async function reset(h: PullHost): Promise<void> {
  await h.guest.exec(["podman", "rmi", "-f", `${SLOW}/app:v2`]);
  await commit(h, "v1");
  await h.ok(["core-ops", "apply", "--source-repo", REPO, "--verify-settle", "1"]);
  await h.ok([DENO, "run", "--quiet", "--allow-net=127.0.0.1", HELPER, "wait", WEB_URL], 90_000);
}

async function commit(h: PullHost, version: string): Promise<void> {
  await h.write(`${REPO}/services/web/quadlet/web.container`, container(version));
  await h.ok(["git", "-C", REPO, "add", "-A"]);
  await h.ok([
    "git",
    ...BENCH_GIT_IDENTITY,
    "-C",
    REPO,
    "commit",
    "-q",
    "--allow-empty",
    "-m",
    version,
  ]);
}

/** The longest gap between two good answers while `change` runs (with 1 s of calm either side). */
async function downtime(h: PullHost, change: () => Promise<void>): Promise<number> {
  const out = "/var/tmp/bench-poll.json";
  await h.guest.exec(["rm", "-f", out]);
  await h.ok([
    "systemd-run",
    "--unit=bench-poll.service",
    "--setenv=DENO_DIR=/var/cache/bench-deno",
    DENO,
    "run",
    "--quiet",
    "--allow-net=127.0.0.1",
    "--allow-write=/var/tmp",
    HELPER,
    "poll",
    WEB_URL,
    out,
  ]);
  await new Promise((r) => setTimeout(r, 1500));
  await change();
  await new Promise((r) => setTimeout(r, 1000));
  await h.ok(["systemctl", "stop", "bench-poll.service"]);
  const result = JSON.parse(await Deno.readTextFile(`${h.guest.root}${out}`));
  return result.longestGapMs as number;
}

/** Part 5: rows for the floor, the change as before, and the change by core-ops. */
export async function pullDowntime(guest: Guest, runs: number, say: Say): Promise<Row[]> {
  const h = new PullHost(guest);
  await setUp(h, say);
  const floor: number[] = [];
  const before: number[] = [];
  const prePull: number[] = [];
  const pulls: number[] = [];
  for (let i = 0; i < runs; i++) {
    say(`bench: 5 downtime, round ${i + 1} of ${runs}`);
    await reset(h);
    floor.push(
      await downtime(h, async () => {
        await h.ok(["systemctl", "restart", "web.service"]);
      }),
    );
    await reset(h);
    before.push(
      await downtime(h, async () => {
        await h.write(QUADLET, container("v2"));
        await h.ok(["systemctl", "daemon-reload"]);
        await h.ok(["systemctl", "restart", "web.service"]);
      }),
    );
    await reset(h);
    prePull.push(
      await downtime(h, async () => {
        await commit(h, "v2");
        const doc = JSON.parse(
          await h.ok([
            "core-ops",
            "apply",
            "--source-repo",
            REPO,
            "--json",
            "--verify-settle",
            "1",
          ]),
        );
        const pull = (doc.steps as { op: string; duration_ms: number }[]).find((s) =>
          s.op === "pull"
        );
        if (!pull) throw new Error("core-ops apply pulled nothing");
        pulls.push(pull.duration_ms);
      }),
    );
  }
  // The raw samples, so a failure in rendering never loses a measurement.
  say(`bench: 5 samples (ms): ${JSON.stringify({ floor, before, prePull, pulls })}`);
  const f = summarize(floor);
  const over = (s: number[]) =>
    `+${((summarize(s).median - f.median) / 1000).toFixed(1)} s over floor`;
  const pre = summarize(prePull);
  return [
    { part: "5", name: "floor: `systemctl restart` of the container, image present", ms: f },
    {
      part: "5",
      name: "the pull of the new image alone (the `pull` step of `core-ops apply`)",
      ms: summarize(pulls),
    },
    {
      part: "5",
      name: "image change as before issue 19: write, `daemon-reload`, restart (pull in ExecStart)",
      ms: summarize(before),
      ratio: over(before),
    },
    {
      part: "5",
      name: "image change by `core-ops apply` (pulled first, old container serving)",
      ms: pre,
      ratio: over(prePull),
      target: `≤ floor + 1 s: ${pre.median <= f.median + 1000 ? "met" : "NOT met"}`,
    },
  ];
}
