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
}

export const HOST_FLAKES: readonly HostFlake[] = [
  {
    // Seen with Podman 5.8.6 and systemd 262 (Debian sid) on a loaded machine: `podman pod
    // start` right after `pod create` asks systemd for the pod's slice while systemd still
    // has it loaded, so the pod unit fails to start.
    pattern:
      /unable to create pod cgroup for pod \S+: creating cgroup \S+: Unit \S+\.slice was already loaded or has a fragment file/,
    what: "Podman: pod start races the pod's cgroup slice (containers/podman#24010)",
  },
];

/** The first known flake whose line is in `journal`, if any. */
export function hostFlakeIn(journal: string): HostFlake | undefined {
  return HOST_FLAKES.find((f) => f.pattern.test(journal));
}
