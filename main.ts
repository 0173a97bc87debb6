/**
 * core-ops: a GitOps agent for Podman Quadlets. This file is the edge: it runs
 * the command and renders any failure exactly once, as a sysexits exit code.
 *
 * @module
 */
import { run } from "./src/cli/program.ts";

if (import.meta.main) {
  Deno.exit(await run(Deno.args));
}
