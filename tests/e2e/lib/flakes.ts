/**
 * Known flakes of the test host's own software — not of core-ops — that the
 * runner may retry a scenario for, once, in a fresh guest. Each is recognised
 * by a line it leaves in the guest's journal and names its upstream report; a
 * failure without such a line is never retried, and a retried scenario is
 * reported as such.
 *
 * @module
 */

/** One known host flake. */
export interface HostFlake {
  /** Matches a line of the guest's journal (`journalctl -o cat`). */
  pattern: RegExp;
  /** What it is, with the upstream report. */
  what: string;
  /** The suites it has been seen on; elsewhere the same line is never a reason to retry. */
  suites: readonly string[];
}

export const HOST_FLAKES: readonly HostFlake[] = [
  {
    // Seen with Podman 5.8.6 and systemd 262 (Debian sid) on a loaded machine: `podman pod
    // start` right after `pod create` asks systemd for the pod's slice while systemd still
    // has it loaded, so the pod unit fails to start.
    pattern:
      /unable to create pod cgroup for pod \S+: creating cgroup \S+: Unit \S+\.slice was already loaded or has a fragment file/,
    what: "Podman: pod start races the pod's cgroup slice (containers/podman#24010)",
    suites: ["sid"],
  },
  {
    // Seen with systemd 262 (Debian sid) as guest of this harness only, on a loaded machine
    // whose host mixes cgroup v1 and v2: now and then PID 1 cannot spawn its executor for a
    // unit being started ("Failed to spawn executor: No such file or directory"), and in the
    // same runs a unit's main process is SIGKILLed the moment it starts, with no sender in the
    // guest's journal or the kernel log. Never seen on trixie (systemd 257).
    pattern: /: Failed to spawn executor: No such file or directory$/m,
    what: "systemd 262 in nspawn: PID 1 failed to spawn sd-executor (ENOENT)",
    suites: ["sid"],
  },
  {
    pattern: /^core-ops\.service: Main process exited, code=killed, status=9\/KILL$/m,
    what: "systemd 262 in nspawn: core-ops.service SIGKILLed by no one at start",
    suites: ["sid"],
  },
];

/** The first known flake of `suite` whose line is in `journal`, if any. */
export function hostFlakeIn(suite: string, journal: string): HostFlake | undefined {
  return HOST_FLAKES.find((f) => f.suites.includes(suite) && f.pattern.test(journal));
}
