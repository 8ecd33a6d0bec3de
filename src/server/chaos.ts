import type { Hono } from "hono";
import type { FaultProxy } from "../testing/fault-proxy.js";
import { HttpError } from "./errors.js";

const MAX_SECONDS = 60;
const MAX_LATENCY_MS = 5_000;

/**
 * Chaos controls for `steadfast serve --chaos`: the service reaches its database through a
 * fault proxy, and these routes let a person add latency, blackhole the network or refuse
 * connections for N seconds, or kill every connection, and watch the service ride through it.
 * They exist only with `--chaos`, which the CLI allows on a loopback address only.
 */
export function chaosRoutes(proxy: FaultProxy): (app: Hono) => void {
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const later = (seconds: number, undo: () => void | Promise<void>) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      void undo();
    }, seconds * 1000);
    timer.unref();
    timers.add(timer);
  };
  const state = () => {
    const s = proxy.stats();
    return {
      latencyMs: s.faults.latencyMs,
      blackholed: s.faults.blackholed,
      refusing: s.faults.refusing,
      open: s.open,
      reset: s.reset,
    };
  };
  return (app) => {
    app.get("/chaos", (c) => c.json(state()));
    app.post("/chaos/latency", async (c) => {
      const ms = number(await body(c.req.raw), "ms", 0, MAX_LATENCY_MS);
      proxy.latency(ms);
      return c.json(state());
    });
    app.post("/chaos/blackhole", async (c) => {
      const seconds = number(await body(c.req.raw), "seconds", 1, MAX_SECONDS);
      proxy.blackhole();
      later(seconds, () => proxy.heal());
      return c.json(state());
    });
    app.post("/chaos/refuse", async (c) => {
      const seconds = number(await body(c.req.raw), "seconds", 1, MAX_SECONDS);
      await proxy.refuse();
      later(seconds, () => proxy.resume());
      return c.json(state());
    });
    app.post("/chaos/kill", (c) => c.json({ killed: proxy.resetAll(), ...state() }));
    app.post("/chaos/heal", async (c) => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      proxy.latency(0);
      proxy.heal();
      if (proxy.stats().faults.refusing) await proxy.resume();
      return c.json(state());
    });
  };
}

async function body(request: Request): Promise<Record<string, unknown>> {
  const text = await request.text();
  if (text === "") return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    throw new HttpError(400, "MALFORMED_JSON", "The body is not valid JSON");
  }
}

function number(input: Record<string, unknown>, field: string, min: number, max: number): number {
  const value = input[field];
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    throw new HttpError(
      400,
      "VALIDATION_FAILED",
      `${field} must be a number from ${min} to ${max}`,
      { field },
    );
  }
  return value;
}
