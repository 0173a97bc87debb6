/**
 * The schema library, as every module imports it (`import * as z`): zod's
 * functional API, `zod/mini`. The no-change agent tick evaluates the schemas
 * of the settings, the state and the converged record on every timer tick,
 * and the classic API costs that tick ~15 ms more: its schema objects carry
 * every method, so it cannot be cut down to what is used (the package's
 * bundle holds all 470 KB of it; of mini, what the program calls), and each
 * schema is slower to build (bench/, issue 15). The checks and the messages
 * are the same: English, as classic sets them.
 *
 * Parsers are interpreted (`jitless`): zod compiles one per object schema
 * (`new Function`) the first time it parses, and a run parses most of its
 * inputs once, so that compile is pure start-up cost (~2 ms for agent.toml's
 * schema alone).
 *
 * @module
 */
import { config } from "zod/mini";
import { en } from "zod/v4/locales";

config({ jitless: true });
config(en());

export * from "zod/mini";
