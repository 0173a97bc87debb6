/**
 * The steps of a run after check, and what they need, as one module the run
 * core (run.ts) imports when a run gets that far: a tick that check answers
 * never evaluates the loader's cache, the generator's, the planner or the
 * apply engine (bench/, issue 15).
 *
 * @module
 */
export { decrypt } from "./decrypt.ts";
export { cachedGenerator } from "./dryrun_cache.ts";
export { execute, keepForRollback, unitKinds } from "./execute.ts";
export { keepConverged } from "./converged.ts";
export { ownedPaths, plan } from "./plan.ts";
export { read } from "./read.ts";
export { nextManifest, sameOwnership } from "./record.ts";
export { failedUnitDetails, failureReason, rollBack } from "./rollback.ts";
export { placeUsers, planUserManagers, requireUserManagers, usersOnce } from "./users.ts";
export { validate } from "./validate.ts";
export { startedUnits, verify } from "./verify.ts";
