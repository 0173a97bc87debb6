/**
 * How the pure core (load + plan + render) costs against reading the same
 * repository from disk, on a synthetic fleet repo of ~2,000 files. Run with
 * `deno task bench:core`; compare the ratios, not the
 * absolute times (they depend on the machine).
 */
import { plan } from "../src/plan/planner.ts";
import { planJson } from "../src/report/plan_text.ts";
import { loadDesiredState } from "../src/source/layout.ts";
import { readRepoTree } from "../src/host/checkout.ts";
import { writeRepo } from "../tests/helpers/repo.ts";

const SERVICES = 200;
const files: Record<string, string> = {};
for (let i = 0; i < SERVICES; i++) {
  const s = `svc${String(i).padStart(3, "0")}`;
  files[`services/${s}/quadlet/${s}.container`] =
    `[Container]\nImage=localhost/busybox\nVolume=${s}.volume:/data\nVolume=/etc/${s}/app.conf:/app.conf\n[Install]\nWantedBy=multi-user.target\n`;
  files[`services/${s}/quadlet/${s}.volume`] = "[Volume]\n";
  files[`services/${s}/quadlet/${s}.container.d/10.conf`] =
    "[Container]\nPodmanArgs=--memory=64m\n";
  for (let c = 0; c < 6; c++) files[`services/${s}/config/c${c}.conf`] = `value=${i}-${c}\n`;
}
files["hosts/h/host.yaml"] = `host: h\nservices:\n${
  Object.keys(files).map((p) => p.split("/")[1]).filter((s, i, a) => a.indexOf(s) === i).map((s) =>
    `  - ${s}\n`
  ).join("")
}`;
const root = await writeRepo(files);
const tree = await readRepoTree(root);
const dirs = { quadletDir: "/q", systemdUnitDir: "/s", configDir: "/etc" };

Deno.bench("read the repository from disk", { group: "plan", baseline: true }, async () => {
  await readRepoTree(root);
});

Deno.bench("load + plan + render (pure core)", { group: "plan" }, () => {
  const desired = loadDesiredState(tree, { host: "h", dirs });
  const result = plan({
    desired,
    manifest: null,
    observed: { files: new Map(), units: null },
    adopt: false,
  });
  planJson({ revision: "r", desired, plan: result, states: null });
});
