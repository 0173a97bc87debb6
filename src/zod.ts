/**
 * The schema library, as every module imports it. zod compiles a parser for
 * an object schema (`new Function`) the first time the schema parses; a run
 * parses most of its inputs once, so that compile is pure start-up cost —
 * ~2 ms for agent.toml's schema alone, on every timer tick (bench/, issue
 * 15). Interpreted parsing checks exactly the same rules.
 *
 * @module
 */
import { z } from "zod";

z.config({ jitless: true });

export { z };
