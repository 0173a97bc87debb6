/**
 * Tests of the harness itself: whatever happens in a scenario, and when the
 * run is interrupted, no guest, mount or run dir may outlive it. A leak here
 * would make later CI runs fail in confusing ways, or fill the disk.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Guest, leftovers, offInterrupt, onInterrupt } from "../lib/guest.ts";
import type { HarnessEnv, Scenario } from "../lib/scenario.ts";

async function gone(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => false, () => true);
}

async function assertNothingLeft(runDir: string, nspawnPid: number): Promise<void> {
  assert.deepEqual(await leftovers(runDir), [], `leftovers under ${runDir}`);
  assert.ok(await gone(runDir), `run dir ${runDir} still exists`);
  assert.ok(nspawnPid > 0, "nspawn never started");
  assert.ok(await gone(`/proc/${nspawnPid}`), `systemd-nspawn ${nspawnPid} still running`);
}

function boot(env: HarnessEnv, name: string): Promise<Guest> {
  return Guest.boot({
    name,
    pristine: env.pristine,
    runRoot: env.cfg.runRoot,
    logDir: env.cfg.logDir,
    timings: env.timings,
  });
}

/** Teardown after a failure and after Ctrl-C. */
export const harnessScenarios: Scenario[] = [
  {
    name: "harness: a failing scenario leaves no mount, process or run dir",
    guest: false,
    async run(t) {
      const guest = await boot(t.env, "e2e-selftest-failure");
      const marker = `/etc/e2e-selftest-${crypto.randomUUID()}`;
      try {
        assert.equal((await guest.exec(["touch", marker])).code, 0);
        assert.equal(
          (await guest.exec(["systemctl", "is-system-running"])).stdout.trim(),
          "running",
        );
        await assert.rejects(async () => {
          try {
            throw new Error("scenario failed on purpose");
          } finally {
            await guest.shutdown();
          }
        }, /on purpose/);
      } finally {
        await guest.shutdown();
      }
      await assertNothingLeft(guest.runDir, guest.nspawnPid);
      // Guest writes land in its own overlay layer, never in the shared pristine tree.
      assert.ok(await gone(`${t.env.pristine}${marker}`), "guest wrote into the pristine rootfs");
    },
  },
  {
    name: "harness: Ctrl-C (SIGINT) tears the guest down",
    guest: false,
    async run(t) {
      const hold = new URL("../hold.ts", import.meta.url).pathname;
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          hold,
          t.env.pristine,
          t.env.cfg.runRoot,
          t.env.cfg.logDir,
          "e2e-selftest-sigint",
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      // If the harness itself is interrupted meanwhile, the helper and its guest go too.
      const stopHelper = async () => {
        child.kill("SIGINT");
        await child.status;
      };
      onInterrupt(stopHelper);
      const stderr = new Response(child.stderr).text();
      // Drained to the end rather than abandoned after READY: cancelling a
      // child's stdout stream mid-way can stall, and a full pipe would block it.
      const ready = new Promise<string[]>((resolve, reject) => {
        (async () => {
          let buffered = "";
          for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
            buffered += chunk;
            const line = buffered.split("\n").find((l) => l.startsWith("READY "));
            if (line) resolve(line.split(" ").slice(1));
          }
          reject(new Error(`hold.ts exited before it was ready:\n${await stderr}`));
        })().catch(reject);
      });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("hold.ts not ready within 60 s")), 60_000);
      });
      let runDir: string;
      let pid: string;
      try {
        [runDir, pid] = await Promise.race([ready, timeout]);
        child.kill("SIGINT");
        const status = await child.status;
        assert.equal(status.code, 130, `hold.ts exit after SIGINT:\n${await stderr}`);
      } catch (error) {
        await stopHelper().catch(() => {});
        throw error;
      } finally {
        clearTimeout(timer);
        offInterrupt(stopHelper);
      }
      await assertNothingLeft(runDir, Number(pid));
    },
  },
];
