import { type Clock, type RandomSource, systemClock, systemRandom } from "../util/clock.js";
import type { OptionsReader } from "../util/options.js";

/** Reads the optional `clock` option every timed policy takes. Default `systemClock`. */
export function readClock(reader: OptionsReader, fallback: Clock = systemClock): Clock {
  const value = reader.raw("clock");
  if (value === undefined) return fallback;
  const clock = value as Partial<Clock> | null;
  if (
    typeof clock !== "object" ||
    clock === null ||
    typeof clock.now !== "function" ||
    typeof clock.setTimeout !== "function" ||
    typeof clock.clearTimeout !== "function"
  ) {
    reader.report("clock", "a Clock (an object with now, setTimeout and clearTimeout)", value);
    return fallback;
  }
  return clock as Clock;
}

/** Reads the optional `random` option (a function returning [0, 1)). Default `Math.random`. */
export function readRandom(reader: OptionsReader): RandomSource {
  return reader.fn<RandomSource>("random") ?? systemRandom;
}
