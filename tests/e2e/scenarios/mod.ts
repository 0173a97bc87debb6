/**
 * Every e2e scenario, in the order the runner executes them: the harness
 * self-tests first, so a broken harness is reported as such.
 *
 * @module
 */
import type { Scenario } from "../lib/scenario.ts";
import { adapterScenarios } from "./adapters.ts";
import { agentScenarios } from "./agent.ts";
import { applyScenarios } from "./apply.ts";
import { exampleScenarios } from "./example.ts";
import { faultScenarios } from "./faults.ts";
import { firstBootAgentScenarios, firstBootScenarios } from "./firstboot.ts";
import { harnessScenarios } from "./harness.ts";
import { healthScenarios } from "./health.ts";
import { helperScenarios } from "./helpers.ts";
import { metricsScenarios } from "./metrics.ts";
import { namingScenarios } from "./naming.ts";
import { planScenarios } from "./plan.ts";
import { pullScenarios } from "./pull.ts";
import { crashScenarios, validateScenarios } from "./validate.ts";
import { triggerScenarios, webhookScenarios } from "./triggers.ts";
import { unitScenarios } from "./units.ts";
import { versionScenarios } from "./version.ts";

/** All scenarios. */
export const SCENARIOS: Scenario[] = [
  ...harnessScenarios,
  ...helperScenarios,
  ...versionScenarios,
  ...validateScenarios,
  ...crashScenarios,
  ...planScenarios,
  ...namingScenarios,
  ...exampleScenarios,
  ...applyScenarios,
  ...metricsScenarios,
  ...adapterScenarios,
  ...unitScenarios,
  ...firstBootScenarios,
  ...firstBootAgentScenarios,
  ...agentScenarios,
  ...triggerScenarios,
  ...webhookScenarios,
  ...healthScenarios,
  ...pullScenarios,
  ...faultScenarios,
];
