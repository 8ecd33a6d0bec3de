import { connect, createServer, type Server, type Socket } from "node:net";
import { SteadfastError } from "../errors/base.js";
import { ConfigError, describeValue } from "../errors/config-error.js";
import { type RandomSource, systemRandom } from "../util/clock.js";
import { type Duration, parseDuration } from "../util/duration.js";
import { OptionsReader } from "../util/options.js";

/**
 * Options of {@link startFaultProxy}.
 *
 * @example
 * ```ts
 * const options: FaultProxyOptions = { target: { host: "127.0.0.1", port: 5432 }, random: () => 0.3 };
 * ```
 */
export interface FaultProxyOptions {
  /** The server every accepted connection is forwarded to. */
  target: {
    /** The server's host. */
    host: string;
    /** The server's port. */
    port: number;
  };
  /** Where the proxy listens. Default `127.0.0.1`, port `0` (the OS picks a free one). */
  listen?: {
    /** The interface to listen on. Default `127.0.0.1`. */
    host?: string;
    /** The port; `0` lets the OS pick a free one. Default `0`. */
    port?: number;
  };
  /** Decides jitter and which connections {@link FaultProxy.dropRatio} drops. Default `Math.random`. */
  random?: RandomSource;
}

/** Which way bytes travel: `"upstream"` is client → server, `"downstream"` server → client. */
export type FaultDirection = "upstream" | "downstream";

/**
 * A snapshot of a {@link FaultProxy}'s counters and active faults; counters only grow.
 *
 * @example
 * ```ts
 * const { open, faults } = proxy.stats();
 * if (faults.blackholed) console.log(`${open} connections stalled`);
 * ```
 */
export interface FaultProxyStats {
  /** Client connections accepted since start. */
  accepted: number;
  /** Connection pairs with at least one socket not yet closed. */
  open: number;
  /** Bytes delivered to the target (held or delayed bytes are not counted until sent). */
  bytesUpstream: number;
  /** Bytes delivered to clients. */
  bytesDownstream: number;
  /** Pairs destroyed by {@link FaultProxy.resetAll}. */
  reset: number;
  /** Pairs destroyed by {@link FaultProxy.dropRatio}. */
  dropped: number;
  /** The faults in force now. */
  faults: {
    /** The larger of the two directions' base latencies, in ms. */
    latencyMs: number;
    /** The added latency per direction. */
    latency: Record<
      FaultDirection,
      {
        /** Base delay added to each chunk, in ms. */
        ms: number;
        /** Random extra delay, up to this many ms. */
        jitter: number;
      }
    >;
    /** Whether bytes are held instead of forwarded ({@link FaultProxy.blackhole}). */
    blackholed: boolean;
    /** Whether new connections are refused ({@link FaultProxy.refuse}). */
    refusing: boolean;
    /** Fraction of new connections reset ({@link FaultProxy.dropRatio}). */
    dropRatio: number;
    /** How long after accept those connections are reset, in ms. */
    dropAfterMs: number;
  };
}

/**
 * A TCP proxy on loopback that forwards to one server and injects network faults on demand:
 * latency, a half-open "blackhole", connection resets, refused connects and random drops.
 * Created by {@link startFaultProxy}; always {@link FaultProxy.close} it.
 *
 * @example
 * ```ts
 * proxy.blackhole(); // connects now hang: the driver's own timeout must fire
 * const client = new pg.Client({ connectionString: proxy.url(url), connectionTimeoutMillis: 300 });
 * await assert.rejects(client.connect(), /timeout/);
 * proxy.heal();
 * ```
 */
export interface FaultProxy {
  /** The address the proxy listens on (`127.0.0.1` unless `listen.host` says otherwise). */
  readonly host: string;
  /** The port the proxy listens on; stays the same across {@link refuse} / {@link resume}. */
  readonly port: number;
  /** `targetUrl` (e.g. a `postgres://` URL) pointed at the proxy; user, database and params kept. */
  url(targetUrl: string): string;
  /**
   * Delays every chunk by `delay` plus `jitter × random()` ms in `direction` (default `"both"`;
   * a round trip then costs twice `delay`). Byte order is preserved even with jitter. Applies
   * to bytes read from now on; `latency(0)` removes it.
   */
  latency(
    delay: Duration,
    options?: { jitter?: Duration; direction?: FaultDirection | "both" },
  ): void;
  /**
   * No byte (nor FIN) moves either way; sockets stay open and are paused so kernel buffers fill
   * like a stalled network. New connections are accepted but not forwarded until {@link heal}.
   */
  blackhole(): void;
  /** Ends a {@link blackhole}: held bytes flow again and held connections are connected upstream. */
  heal(): void;
  /** Destroys every open pair, with a TCP RST where Node allows it. Returns how many pairs. */
  resetAll(): number;
  /** Stops listening, so new connects get `ECONNREFUSED`; open pairs are untouched. */
  refuse(): Promise<void>;
  /** Listens again on the same port after {@link refuse}. */
  resume(): Promise<void>;
  /**
   * Resets a fraction `p` (0..1) of new connections `afterMs` after accept; `dropRatio(0, 0)`
   * turns it off. Faults injected this way and by {@link resetAll} ignore {@link blackhole}.
   */
  dropRatio(p: number, afterMs: Duration): void;
  /** Counters and the faults now in force. */
  stats(): FaultProxyStats;
  /** Destroys all sockets, clears all timers and stops listening. Idempotent. */
  close(): Promise<void>;
}

// Above this many queued bytes in one direction the source is paused (latency backpressure).
const MAX_QUEUED_BYTES = 1 << 20;

interface Chunk {
  readonly data: Buffer;
  readonly deliverAt: number;
}

class Lane {
  readonly queue: Chunk[] = [];
  queuedBytes = 0;
  lastDeliverAt = 0;
  timer: NodeJS.Timeout | undefined;
  sourceEnded = false;
  destEnded = false;
}

interface Pair {
  readonly client: Socket;
  upstream: Socket | undefined;
  upstreamConnected: boolean;
  clientClosed: boolean;
  upstreamClosed: boolean;
  doomed: boolean;
  finished: boolean;
  dropTimer: NodeJS.Timeout | undefined;
  readonly lanes: Record<FaultDirection, Lane>;
}

/**
 * Starts a {@link FaultProxy} in front of `options.target` and resolves once it listens.
 *
 * @example
 * ```ts
 * const proxy = await startFaultProxy({ target: { host: "127.0.0.1", port: 5432 } });
 * const client = new pg.Client({ connectionString: proxy.url(process.env.DATABASE_URL!) });
 * proxy.latency(200);
 * proxy.blackhole();
 * await proxy.close();
 * ```
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const r = new OptionsReader(options, "faultProxy", ["target", "listen", "random"]);
  const target = r.nested("target", ["host", "port"]);
  const targetHost = target.string("host", { nonEmpty: true }) ?? "";
  if (target.raw("host") === undefined) target.report("host", "a non-empty string", undefined);
  const targetPort = target.integer("port", 0, { min: 1, max: 65_535 });
  if (target.raw("port") === undefined) {
    target.report("port", "an integer between 1 and 65535", undefined);
  }
  const listen = r.nested("listen", ["host", "port"]);
  const listenHost = listen.string("host", { nonEmpty: true }) ?? "127.0.0.1";
  const listenPort = listen.integer("port", 0, { min: 0, max: 65_535 });
  const random = r.fn<RandomSource>("random") ?? systemRandom;
  r.finish();
  const proxy = new FaultProxyImpl({ host: targetHost, port: targetPort }, listenHost, random);
  await proxy.listen(listenPort);
  return proxy;
}

class FaultProxyImpl implements FaultProxy {
  readonly host: string;
  #port = 0;
  #server: Server | undefined;
  #closing: Promise<void> | undefined;
  #resuming: Promise<void> | undefined;
  readonly #target: { host: string; port: number };
  readonly #random: RandomSource;
  readonly #pairs = new Set<Pair>();
  readonly #latency = { upstream: { ms: 0, jitter: 0 }, downstream: { ms: 0, jitter: 0 } };
  #blackholed = false;
  #drop = { ratio: 0, afterMs: 0 };
  readonly #count = { accepted: 0, bytesUpstream: 0, bytesDownstream: 0, reset: 0, dropped: 0 };

  constructor(target: { host: string; port: number }, host: string, random: RandomSource) {
    this.#target = target;
    this.host = host;
    this.#random = random;
  }

  get port(): number {
    return this.#port;
  }

  async listen(port: number): Promise<void> {
    const server = createServer({ allowHalfOpen: true }, (socket) => this.#accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, this.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    // Accept errors (EMFILE…) must not crash the process under test; the connect just fails.
    server.on("error", () => {});
    if (this.#closing) {
      server.close(); // close() ran while we were binding: never leave a listener behind
      return;
    }
    const address = server.address();
    if (address !== null && typeof address === "object") this.#port = address.port;
    this.#server = server;
  }

  url(targetUrl: string): string {
    let url: URL;
    try {
      url = new URL(targetUrl);
    } catch {
      throw new TypeError(`url(targetUrl): expected a URL such as "postgres://user@host/db"`);
    }
    url.hostname = this.host.includes(":") ? `[${this.host}]` : this.host;
    url.port = String(this.#port);
    // pg lets ?host= / ?port= override the authority; they would bypass the proxy.
    url.searchParams.delete("host");
    url.searchParams.delete("port");
    return url.toString();
  }

  latency(
    delay: Duration,
    options: { jitter?: Duration; direction?: FaultDirection | "both" } = {},
  ): void {
    const ms = parseDuration(delay);
    const jitter = parseDuration(options.jitter ?? 0);
    const direction = options.direction ?? "both";
    if (ms === undefined) invalid("latency(delay)", 'a duration >= 0 (ms or "200ms")', delay);
    if (jitter === undefined) invalid("latency(options.jitter)", "a duration >= 0", options.jitter);
    if (!["both", "upstream", "downstream"].includes(direction)) {
      invalid("latency(options.direction)", '"both", "upstream" or "downstream"', direction);
    }
    if (direction !== "downstream") this.#latency.upstream = { ms, jitter };
    if (direction !== "upstream") this.#latency.downstream = { ms, jitter };
  }

  blackhole(): void {
    this.#blackholed = true;
    for (const pair of this.#pairs) this.#updateFlow(pair);
  }

  heal(): void {
    if (!this.#blackholed) return;
    this.#blackholed = false;
    for (const pair of [...this.#pairs]) {
      if (pair.upstream === undefined) this.#connectUpstream(pair);
      this.#pump(pair, "upstream");
      this.#pump(pair, "downstream");
    }
  }

  resetAll(): number {
    let count = 0;
    for (const pair of this.#pairs) {
      if (pair.doomed) continue;
      count++;
      this.#reset(pair);
    }
    this.#count.reset += count;
    return count;
  }

  async refuse(): Promise<void> {
    // close() stops accepting at once (libuv closes the fd synchronously); its callback would
    // wait for every open pair, which refuse() must leave alone.
    this.#server?.close();
    this.#server = undefined;
  }

  async resume(): Promise<void> {
    if (this.#closing) {
      throw new SteadfastError("FAULT_PROXY_CLOSED", "resume(): the fault proxy is closed");
    }
    // Concurrent resume() calls share one bind instead of racing into EADDRINUSE.
    this.#resuming ??= this.#server ? Promise.resolve() : this.listen(this.#port);
    try {
      await this.#resuming;
    } finally {
      this.#resuming = undefined;
    }
  }

  dropRatio(p: number, afterMs: Duration): void {
    const after = parseDuration(afterMs);
    if (typeof p !== "number" || !(p >= 0 && p <= 1))
      invalid("dropRatio(p)", "a number between 0 and 1", p);
    if (after === undefined) invalid("dropRatio(afterMs)", "a duration >= 0", afterMs);
    this.#drop = { ratio: p, afterMs: after };
  }

  stats(): FaultProxyStats {
    const { upstream, downstream } = this.#latency;
    return {
      ...this.#count,
      open: this.#pairs.size,
      faults: {
        latencyMs: Math.max(upstream.ms, downstream.ms),
        latency: { upstream: { ...upstream }, downstream: { ...downstream } },
        blackholed: this.#blackholed,
        refusing: this.#server === undefined,
        dropRatio: this.#drop.ratio,
        dropAfterMs: this.#drop.afterMs,
      },
    };
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    await this.#resuming?.catch(() => {});
    const closed: Promise<void>[] = [];
    const server = this.#server;
    this.#server = undefined;
    if (server) closed.push(new Promise((resolve) => server.close(() => resolve())));
    for (const pair of this.#pairs) {
      this.#clearTimers(pair);
      const sockets = [
        pair.clientClosed ? undefined : pair.client,
        pair.upstreamClosed ? undefined : pair.upstream,
      ];
      for (const socket of sockets) {
        if (socket === undefined) continue;
        closed.push(new Promise((resolve) => socket.once("close", () => resolve())));
        socket.destroy();
      }
    }
    await Promise.all(closed);
  }

  #accept(client: Socket): void {
    client.on("error", () => {}); // surfaces as 'close' with hadError; handled there
    if (this.#closing) {
      client.destroy();
      return;
    }
    client.setNoDelay(true); // Nagle would add its own latency to small protocol messages
    const pair: Pair = {
      client,
      upstream: undefined,
      upstreamConnected: false,
      clientClosed: false,
      upstreamClosed: false,
      doomed: false,
      finished: false,
      dropTimer: undefined,
      lanes: { upstream: new Lane(), downstream: new Lane() },
    };
    this.#pairs.add(pair);
    this.#count.accepted++;
    this.#wire(pair, client, "upstream");
    const { ratio, afterMs } = this.#drop;
    if (ratio > 0 && this.#random() < ratio) {
      pair.dropTimer = setTimeout(() => {
        pair.dropTimer = undefined;
        if (pair.doomed) return;
        this.#count.dropped++;
        this.#reset(pair);
      }, afterMs);
    }
    if (this.#blackholed) this.#updateFlow(pair);
    else this.#connectUpstream(pair);
  }

  #connectUpstream(pair: Pair): void {
    if (pair.clientClosed || pair.doomed) return;
    const upstream = connect({ ...this.#target, allowHalfOpen: true, noDelay: true });
    upstream.on("error", () => {});
    upstream.once("connect", () => {
      pair.upstreamConnected = true;
    });
    pair.upstream = upstream;
    this.#wire(pair, upstream, "downstream");
    this.#pump(pair, "upstream");
  }

  /** Reads from `source` into the lane of `direction`; its writes drain the opposite lane. */
  #wire(pair: Pair, source: Socket, direction: FaultDirection): void {
    source.on("data", (chunk: Buffer) => this.#enqueue(pair, direction, chunk));
    source.on("end", () => {
      pair.lanes[direction].sourceEnded = true;
      this.#pump(pair, direction);
    });
    source.on("drain", () => this.#updateFlow(pair));
    source.on("close", (hadError) => this.#onClose(pair, source, direction, hadError));
  }

  #enqueue(pair: Pair, direction: FaultDirection, data: Buffer): void {
    const lane = pair.lanes[direction];
    const { ms, jitter } = this.#latency[direction];
    const delay = ms + (jitter > 0 ? jitter * this.#random() : 0);
    // The FIFO queue already keeps byte order; a monotonic deliverAt keeps the single
    // head-of-queue timer right, so jitter delays later chunks instead of overtaking.
    const deliverAt = Math.max(performance.now() + delay, lane.lastDeliverAt);
    lane.lastDeliverAt = deliverAt;
    lane.queue.push({ data, deliverAt });
    lane.queuedBytes += data.length;
    this.#pump(pair, direction);
  }

  /** Delivers the due chunks of one lane, then its FIN once the source ended and the queue is empty. */
  #pump(pair: Pair, direction: FaultDirection): void {
    const lane = pair.lanes[direction];
    const dest = direction === "upstream" ? pair.upstream : pair.client;
    if (pair.finished || this.#blackholed || dest === undefined) return;
    if (dest.destroyed) {
      lane.queue.length = 0;
      lane.queuedBytes = 0;
      return;
    }
    const now = performance.now();
    for (
      let head = lane.queue[0];
      head !== undefined && head.deliverAt <= now;
      head = lane.queue[0]
    ) {
      lane.queue.shift();
      lane.queuedBytes -= head.data.length;
      dest.write(head.data);
      if (direction === "upstream") this.#count.bytesUpstream += head.data.length;
      else this.#count.bytesDownstream += head.data.length;
    }
    const next = lane.queue[0];
    if (next !== undefined && lane.timer === undefined) {
      lane.timer = setTimeout(
        () => {
          lane.timer = undefined;
          this.#pump(pair, direction);
        },
        Math.ceil(next.deliverAt - now),
      );
    }
    if (next === undefined && lane.sourceEnded && !lane.destEnded) {
      lane.destEnded = true;
      const sourceGone = direction === "upstream" ? pair.clientClosed : pair.upstreamClosed;
      // Nobody is left to read what `dest` might still send back: close it once flushed.
      if (sourceGone) dest.destroySoon();
      else dest.end();
    }
    this.#updateFlow(pair);
  }

  /** Pauses a source while blackholed or while its lane is backed up; resumes it otherwise. */
  #updateFlow(pair: Pair): void {
    for (const direction of ["upstream", "downstream"] as const) {
      const [source, dest] =
        direction === "upstream" ? [pair.client, pair.upstream] : [pair.upstream, pair.client];
      if (source === undefined) continue;
      const backedUp =
        pair.lanes[direction].queuedBytes >= MAX_QUEUED_BYTES || dest?.writableNeedDrain === true;
      if (this.#blackholed || backedUp) source.pause();
      else source.resume();
    }
  }

  #onClose(pair: Pair, socket: Socket, direction: FaultDirection, hadError: boolean): void {
    const isClient = socket === pair.client;
    if (isClient) pair.clientClosed = true;
    else pair.upstreamClosed = true;
    const peer = isClient ? pair.upstream : pair.client;
    if (hadError && peer !== undefined && !pair.doomed) {
      pair.doomed = true;
      // A failed upstream connect just drops the client; a reset mid-stream is passed on.
      if (!isClient && !pair.upstreamConnected) peer.destroy();
      else resetSocket(peer);
    }
    pair.lanes[direction].sourceEnded = true;
    this.#pump(pair, direction);
    if (pair.clientClosed && (pair.upstream === undefined || pair.upstreamClosed)) {
      pair.finished = true;
      this.#clearTimers(pair);
      this.#pairs.delete(pair);
    }
  }

  #reset(pair: Pair): void {
    pair.doomed = true;
    resetSocket(pair.client);
    if (pair.upstream !== undefined) resetSocket(pair.upstream);
  }

  #clearTimers(pair: Pair): void {
    clearTimeout(pair.dropTimer);
    clearTimeout(pair.lanes.upstream.timer);
    clearTimeout(pair.lanes.downstream.timer);
  }
}

/** Destroys `socket` with a TCP RST when it is connected, else plainly. */
function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting) {
    socket.destroy();
    return;
  }
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

function invalid(field: string, expected: string, value: unknown): never {
  throw new ConfigError([{ field, expected, received: describeValue(value) }]);
}
