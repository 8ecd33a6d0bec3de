import { emitKeypressEvents } from "node:readline";
import { type FaultProxy, startFaultProxy } from "../testing/fault-proxy.js";
import { parseDuration } from "../util/duration.js";
import { CliError } from "./errors.js";

/** Options of `steadfast proxy`, as parsed. */
export interface ProxyOptions {
  readonly target: string;
  readonly listen: string;
  readonly latency?: string;
  readonly jitter?: string;
  readonly blackhole: boolean;
  readonly refuse: boolean;
  readonly dropRatio?: string;
  readonly dropAfter: string;
}

/** A key press in interactive mode and what it does; pure, so it is testable. */
export type KeyAction = "blackhole" | "refuse" | "reset" | "latency" | "quit" | "help" | undefined;

export function keyAction(key: string): KeyAction {
  return (
    {
      b: "blackhole",
      r: "refuse",
      k: "reset",
      l: "latency",
      q: "quit",
      h: "help",
      "?": "help",
    } as const
  )[key as "b"];
}

/** The latencies `l` cycles through. */
export const LATENCY_STEPS = [0, 100, 250, 1000] as const;

const LEGEND =
  "keys: b blackhole/heal · r refuse/resume · k kill all connections · l cycle latency (0/100/250/1000 ms) · q quit";

function hostPort(text: string, flag: string, defaultHost: string): { host: string; port: number } {
  const m = /^(?:\[?([^\]]*?)\]?:)?(\d{1,5})$/.exec(text);
  const port = Number(m?.[2]);
  if (!m || port > 65_535)
    throw new CliError(`${flag} must be host:port or a port, not "${text}"`, 2);
  return { host: m[1] || defaultHost, port };
}

/**
 * The fault proxy as a command, for testing your own app against a misbehaving network:
 * faults from flags, and on a terminal, keys to toggle them while it runs.
 */
export async function proxyCommand(options: ProxyOptions): Promise<void> {
  const target = hostPort(options.target, "--target", "127.0.0.1");
  const listen = hostPort(options.listen, "--listen", "127.0.0.1");
  const duration = (value: string | undefined, flag: string) => {
    if (value === undefined) return undefined;
    const ms = parseDuration(value);
    if (ms === undefined)
      throw new CliError(`${flag} must be a duration such as "200ms", not "${value}"`, 2);
    return ms;
  };
  const latency = duration(options.latency, "--latency");
  const jitter = duration(options.jitter, "--jitter");
  const dropAfter = duration(options.dropAfter, "--drop-after") ?? 0;
  const dropRatio = options.dropRatio === undefined ? undefined : Number(options.dropRatio);
  if (dropRatio !== undefined && !(dropRatio >= 0 && dropRatio <= 1))
    throw new CliError(`--drop-ratio must be from 0 to 1, not "${options.dropRatio}"`, 2);

  const proxy = await startFaultProxy({ target, listen });
  if (latency !== undefined) proxy.latency(latency, jitter === undefined ? {} : { jitter });
  if (options.blackhole) proxy.blackhole();
  if (options.refuse) await proxy.refuse();
  if (dropRatio !== undefined) proxy.dropRatio(dropRatio, dropAfter);
  await new Promise<void>((resolve) => {
    // While refusing, nothing else holds the event loop: keep the process up until a signal.
    const alive = setInterval(() => {}, 1 << 30);
    const stop = () => {
      clearInterval(alive);
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      if (process.stdin.isTTY) process.stdin.setRawMode(false);
      process.stdin.pause();
      void proxy.close().then(resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    // Announced only once the signal handlers are in place: a supervisor may stop us at once.
    process.stdout.write(
      `steadfast proxy listening on ${proxy.host}:${proxy.port} → ${target.host}:${target.port}\n`,
    );
    if (process.stdin.isTTY) interactive(proxy, stop);
  });
  process.stdout.write("steadfast proxy stopped\n");
}

function interactive(proxy: FaultProxy, stop: () => void): void {
  process.stdout.write(`${LEGEND}\n`);
  emitKeypressEvents(process.stdin);
  process.stdin.setRawMode(true);
  let step = 0;
  const status = () => {
    const s = proxy.stats();
    process.stdout.write(
      `latency ${s.faults.latencyMs} ms · ${s.faults.blackholed ? "BLACKHOLED" : "flowing"} · ${s.faults.refusing ? "REFUSING" : "accepting"} · open ${s.open} · accepted ${s.accepted}\n`,
    );
  };
  process.stdin.on("keypress", (_text: string, key: { name?: string; ctrl?: boolean }) => {
    if (key.ctrl && key.name === "c") return stop();
    switch (keyAction(key.name ?? "")) {
      case "blackhole":
        if (proxy.stats().faults.blackholed) proxy.heal();
        else proxy.blackhole();
        break;
      case "refuse":
        void (proxy.stats().faults.refusing ? proxy.resume() : proxy.refuse()).then(status);
        return;
      case "reset":
        process.stdout.write(`killed ${proxy.resetAll()} connections\n`);
        break;
      case "latency":
        step = (step + 1) % LATENCY_STEPS.length;
        proxy.latency(LATENCY_STEPS[step] ?? 0);
        break;
      case "quit":
        return stop();
      case "help":
        process.stdout.write(`${LEGEND}\n`);
        return;
      default:
        return;
    }
    status();
  });
}
