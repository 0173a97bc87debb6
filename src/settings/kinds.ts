/**
 * The kinds of value a setting holds (a path, a duration, a switch, a list of
 * config roots): how each is checked from any origin, which TOML types
 * agent.toml may use for it, and how `--help` names its value.
 *
 * @module
 */
import * as z from "../zod.ts";
import { IDENTIFIER } from "../model.ts";

/**
 * What a setting holds: how a value from any origin is checked and normalised
 * (`schema`: a string from a flag or the environment, or a TOML value), which
 * TOML types agent.toml may give it, its value's name in `--help` (`null` for
 * a switch), and the unit its resolved field is named with.
 */
export interface Kind<
  S extends z.ZodMiniType = z.ZodMiniType,
  U extends "" | "Seconds" = "" | "Seconds",
  A extends string | null = string | null,
> {
  schema: S;
  toml: z.ZodMiniType;
  arg: A;
  unit: U;
}

const absolutePath = z.pipe(
  z.string().check(z.regex(/^\/(?!.*(^|\/)\.\.(\/|$)).*/, "must be an absolute path without '..'")),
  z.transform((p) => (p.length > 1 ? p.replace(/\/+$/, "") : p)),
);

/** Longest duration any setting accepts: a week, to catch a unit typo (ms for s). */
const MAX_DURATION = 7 * 24 * 3600;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600 };

/**
 * A duration in whole seconds: an integer (`90`), or a string of digits with
 * an optional unit `s`, `m` or `h` (`"90"`, `"90s"`, `"5m"`, `"1h"`), so the
 * same spelling works in agent.toml, in a `CORE_OPS_*` variable and as a flag.
 */
function durationSchema(min: number) {
  const spelling =
    'must be whole seconds, or digits with a unit s, m or h (e.g. 90, "90s", "5m", "1h")';
  return z.pipe(
    z.pipe(
      z.union([z.number(), z.string()], { error: spelling }),
      z.transform((value, ctx) => {
        if (typeof value === "number") {
          if (Number.isInteger(value)) return value;
          ctx.issues.push({
            code: "custom",
            message: "must be a whole number of seconds",
            input: value,
          });
          return z.NEVER;
        }
        const match = /^([0-9]+)([smh]?)$/.exec(value);
        if (match === null) {
          ctx.issues.push({ code: "custom", message: spelling, input: value });
          return z.NEVER;
        }
        return Number.parseInt(match[1], 10) * UNIT_SECONDS[match[2] || "s"];
      }),
    ),
    z.number().check(
      z.minimum(min, `must be at least ${min} s`),
      z.maximum(MAX_DURATION, `must be at most ${MAX_DURATION} s (7 days)`),
    ),
  );
}

const booleanSchema = z.union([
  z.boolean(),
  z.pipe(
    z.enum(["true", "false", "yes", "no", "1", "0"]),
    z.transform((s) => s === "true" || s === "yes" || s === "1"),
  ),
], { error: "must be true or false" });

const configRoot = z.string().check(
  z.regex(
    IDENTIFIER,
    "each root must be a single name matching ^[A-Za-z0-9][A-Za-z0-9@._-]*$ (no '/')",
  ),
);

/** In agent.toml a list; in the environment or a flag, comma-separated ("" = none allowed). */
const rootsSchema = z.pipe(
  z.union([
    z.array(configRoot),
    z.pipe(
      z.pipe(
        z.string(),
        z.transform((s) => s.split(",").map((r) => r.trim()).filter((r) => r !== "")),
      ),
      z.array(configRoot),
    ),
  ]),
  z.transform((roots) => [...new Set(roots)]),
);

/** A string checked by `schema`; `arg` names it in help. */
export function text<S extends z.ZodMiniType, A extends string>(arg: A, schema: S): Kind<S, "", A> {
  return { schema, toml: z.string(), arg, unit: "" };
}

/** An absolute path without `..`, trailing slashes dropped. */
export function path<A extends string>(arg: A): Kind<typeof absolutePath, "", A> {
  return text(arg, absolutePath);
}

/** Whole seconds, named `…Seconds` once resolved. */
export function duration(
  min: number,
): Kind<ReturnType<typeof durationSchema>, "Seconds", "duration"> {
  return {
    schema: durationSchema(min),
    toml: z.union([z.number(), z.string()]),
    arg: "duration",
    unit: "Seconds",
  };
}

/** A whole number from `min` to `max` (a TOML integer, or digits elsewhere). */
export function count(min: number, max: number, what: string) {
  const schema = z.pipe(
    z.union([
      z.number(),
      z.pipe(z.string().check(z.regex(/^[0-9]+$/, "must be a whole number")), z.transform(Number)),
    ], { error: "must be a whole number" }),
    z.int("must be a whole number").check(
      z.minimum(min, `must be at least ${min}${what}`),
      z.maximum(max, `must be at most ${max}`),
    ),
  );
  const kind: Kind<typeof schema, "", "n"> = {
    schema,
    toml: z.union([z.number(), z.string()]),
    arg: "n",
    unit: "",
  };
  return kind;
}

/** A switch: true/false in agent.toml, also yes/no and 1/0 in the environment. */
export const flag: Kind<typeof booleanSchema, "", null> = {
  schema: booleanSchema,
  toml: z.boolean(),
  arg: null,
  unit: "",
};

/** Config root names: a TOML array, or comma-separated in the environment and flags. */
export const roots: Kind<typeof rootsSchema, "", "list"> = {
  schema: rootsSchema,
  toml: z.array(z.string()),
  arg: "list",
  unit: "",
};
