/**
 * Generated source repositories for the benchmarks: a fleet repo in the
 * layout of SPEC §1 with a realistic mix per service (containers, volumes, a
 * network, drop-ins, a timer-driven native job, config files, a host overlay),
 * sized to an exact file count so runs at 500, 2,000 and 10,000 files (the
 * loader's cap) load the same shape at different scales.
 *
 * @module
 */

/** Relative path → content. */
export type RepoFiles = Record<string, string>;

/** The host whose plan is measured; it deploys every service. */
export const BENCH_HOST = "h1";

/** The author of the bench's commits (`git -c …`). */
export const BENCH_GIT_IDENTITY = ["-c", "user.name=bench", "-c", "user.email=bench@localhost"];

/** The files of one service `s`, with the host overlay of {@link BENCH_HOST}. */
function service(s: string, index: number): RepoFiles {
  const q = `services/${s}/quadlet`;
  const u = `services/${s}/systemd`;
  const c = `services/${s}/config`;
  const o = `hosts/${BENCH_HOST}/${s}`;
  return {
    [`services/${s}/service.yaml`]: `config-root: ${s}\n`,
    [`${q}/${s}.container`]: `[Unit]
Description=${s} application

[Container]
Image=localhost/busybox:latest
Exec=/bin/sh -c 'trap "exit 0" TERM; while :; do sleep 1; done'
Volume=${s}-data.volume:/data
Volume=${s}-cache.volume:/cache
Volume=/etc/${s}/app.conf:/etc/app.conf:ro
EnvironmentFile=/etc/${s}/app.env
Network=${s}.network
PublishPort=127.0.0.1:${10000 + index}:8080

[Service]
Restart=on-failure

[Install]
WantedBy=multi-user.target
`,
    [`${q}/${s}-worker.container`]: `[Unit]
Description=${s} worker
Requires=${s}.service
After=${s}.service

[Container]
Image=localhost/busybox:latest
Exec=/bin/sh -c 'trap "exit 0" TERM; while :; do sleep 1; done'
Volume=${s}-data.volume:/data
Volume=/etc/${s}/worker.conf:/etc/worker.conf:ro
Network=${s}.network

[Install]
WantedBy=multi-user.target
`,
    [`${q}/${s}-data.volume`]: `[Volume]\nLabel=app=${s}\n`,
    [`${q}/${s}-cache.volume`]: `[Volume]\nLabel=app=${s}\nLabel=kind=cache\n`,
    [`${q}/${s}.network`]: `[Network]\nSubnet=10.${100 + (index >> 8) % 100}.${index % 256}.0/24\n`,
    [`${q}/${s}.container.d/10-resources.conf`]: `[Container]\nPodmanArgs=--memory=256m\n`,
    [`${q}/${s}.container.d/20-env.conf`]: `[Container]\nEnvironment=APP_ENV=production\n`,
    [`${q}/${s}-worker.container.d/10-resources.conf`]: `[Container]\nPodmanArgs=--memory=128m\n`,
    [`${u}/${s}-backup.service`]: `[Unit]
Description=${s} backup

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo backup ${s}'
`,
    [`${u}/${s}-backup.timer`]: `[Unit]
Description=${s} nightly backup

[Timer]
OnCalendar=*-*-* 03:${String(index % 60).padStart(2, "0")}:00
Persistent=true

[Install]
WantedBy=timers.target
`,
    [`${c}/app.conf`]: `# ${s}\nlisten = 8080\nworkers = 4\nlog_level = info\n`,
    [`${c}/app.env`]: `APP_NAME=${s}\nAPP_PORT=8080\n`,
    [`${c}/worker.conf`]: `queue = ${s}\nconcurrency = 2\n`,
    [`${c}/conf.d/10-limits.conf`]: `max_body = 1m\n`,
    [`${c}/conf.d/20-cache.conf`]: `cache_size = 64m\n`,
    [`${c}/templates/index.html`]: `<html><body><h1>${s}</h1></body></html>\n`,
    [`${c}/notes.txt`]: `Configuration of ${s}, deployed to /etc/${s}.\n`,
    [`${o}/quadlet/${s}.container.d/90-host.conf`]: `[Container]\nEnvironment=HOST=${BENCH_HOST}\n`,
    [`${o}/config/app.conf`]: `# ${s} on ${BENCH_HOST}\nlisten = 8080\nworkers = 8\n`,
  };
}

/** Files per generated service. */
export const FILES_PER_SERVICE = Object.keys(service("s", 0)).length;

/**
 * A repository of exactly `total` files: as many whole services as fit, both
 * hosts' host.yaml (h1 deploys every service, h2 half of them), and extra
 * config files in the first service to make up the count.
 */
export function generateRepo(total: number): RepoFiles {
  const hostFiles = 2;
  const count = Math.floor((total - hostFiles) / FILES_PER_SERVICE);
  if (count < 1) throw new Error(`${total} files is too few for one service`);
  const ids = Array.from({ length: count }, (_, i) => `svc${String(i).padStart(4, "0")}`);
  const files: RepoFiles = {};
  ids.forEach((s, i) => Object.assign(files, service(s, i)));
  files[`hosts/${BENCH_HOST}/host.yaml`] = `host: ${BENCH_HOST}\nservices:\n${
    ids.map((s) => `  - ${s}\n`).join("")
  }`;
  files["hosts/h2/host.yaml"] = `host: h2\nservices:\n${
    ids.filter((_, i) => i % 2 === 0).map((s) => `  - ${s}\n`).join("")
  }`;
  for (let extra = 0; Object.keys(files).length < total; extra++) {
    files[`services/${ids[0]}/config/extra/${extra}.conf`] = `extra = ${extra}\n`;
  }
  return files;
}

/** Writes `files` under `dir` (parents created). */
export async function writeFiles(dir: string, files: RepoFiles): Promise<void> {
  const made = new Set<string>();
  for (const [rel, content] of Object.entries(files)) {
    const parent = `${dir}/${rel}`.replace(/\/[^/]+$/, "");
    if (!made.has(parent)) {
      await Deno.mkdir(parent, { recursive: true });
      made.add(parent);
    }
    await Deno.writeTextFile(`${dir}/${rel}`, content);
  }
}
