/**
 * Every e2e scenario, in the order the runner executes them: the harness
 * self-tests first, so a broken harness is reported as such.
 *
 * Groups whose outcome depends on the host's systemd or Podman are tagged
 * `host` here (a scenario added to such a group is tagged with it): `.ci/run`
 * runs every scenario on trixie and the `host` ones on sid too. Untagged:
 * the launcher's version and cache dir, the metrics textfile, and the fault
 * injection, least-privilege and secrets scenarios (core-ops' own recovery,
 * permission flags and redaction).
 *
 * @module
 */
import { type Scenario, tagged } from "../lib/scenario.ts";
import { adapterScenarios } from "./adapters.ts";
import { agentScenarios } from "./agent.ts";
import { convergedScenarios } from "./converged.ts";
import { applyScenarios } from "./apply.ts";
import { exampleScenarios } from "./example.ts";
import { faultScenarios } from "./faults.ts";
import { firstBootAgentScenarios, firstBootScenarios } from "./firstboot.ts";
import { harnessScenarios } from "./harness.ts";
import { healthScenarios } from "./health.ts";
import { helperScenarios } from "./helpers.ts";
import { metricsScenarios } from "./metrics.ts";
import { namingScenarios } from "./naming.ts";
import { operatorScenarios } from "./operator.ts";
import { planScenarios } from "./plan.ts";
import { secretScenarios } from "./secrets.ts";
import { templateScenarios } from "./templates.ts";
import { pullScenarios } from "./pull.ts";
import { rootlessScenarios } from "./rootless.ts";
import { crashScenarios, validateScenarios } from "./validate.ts";
import { triggerScenarios, webhookScenarios } from "./triggers.ts";
import { unitScenarios } from "./units.ts";
import { userScenarios } from "./users.ts";
import { versionScenarios } from "./version.ts";

/** All scenarios. */
export const SCENARIOS: Scenario[] = [
  ...tagged("host", harnessScenarios),
  ...tagged("host", helperScenarios),
  ...versionScenarios,
  ...tagged("host", validateScenarios),
  ...tagged("host", crashScenarios),
  ...tagged("host", planScenarios),
  ...tagged("host", namingScenarios),
  ...tagged("host", templateScenarios),
  ...tagged("host", exampleScenarios),
  ...tagged("host", applyScenarios),
  ...metricsScenarios,
  ...tagged("host", adapterScenarios),
  ...tagged("host", unitScenarios),
  ...tagged("host", firstBootScenarios),
  ...tagged("host", firstBootAgentScenarios),
  ...tagged("host", agentScenarios),
  ...tagged("host", convergedScenarios),
  ...tagged("host", userScenarios),
  ...tagged("host", triggerScenarios),
  ...tagged("host", webhookScenarios),
  ...tagged("host", healthScenarios),
  ...tagged("host", pullScenarios),
  ...faultScenarios,
  ...tagged("host", secretScenarios),
  ...tagged("host", operatorScenarios),
  ...tagged("host", rootlessScenarios),
];
