import { connect } from "node:net";
import type pg from "pg";

/** What a CancelRequest needs: where the server is and the backend's key data. */
export interface CancelTarget {
  /** The server's host (or Unix socket directory). */
  readonly host: string;
  /** The server's port. */
  readonly port: number;
  /** The backend's process ID, from BackendKeyData. */
  readonly processID: number;
  /** The backend's secret key, from BackendKeyData. */
  readonly secretKey: number;
}

const CANCEL_REQUEST_CODE = 80877102;

/**
 * The cancel key data of a connected `pg.Client`, or `undefined` before the handshake ended.
 *
 * @example
 * ```ts
 * const target = cancelTargetOf(client);
 * if (target) await sendCancelRequest(target); // stops the client's running statement
 * ```
 */
export function cancelTargetOf(client: pg.Client): CancelTarget | undefined {
  const c = client as unknown as {
    host?: string;
    port?: number;
    processID?: number | null;
    secretKey?: number | null;
  };
  if (typeof c.processID !== "number" || typeof c.secretKey !== "number") return undefined;
  return {
    host: c.host ?? "localhost",
    port: c.port ?? 5432,
    processID: c.processID,
    secretKey: c.secretKey,
  };
}

/**
 * Sends a PostgreSQL CancelRequest for one backend over a new connection, as the protocol
 * prescribes, and resolves when the server has read it (it closes the socket) or after
 * `timeoutMs`. Never rejects: a cancel is best effort, and the caller destroys the connection
 * when the query does not come back anyway.
 *
 * @example
 * ```ts
 * const target = cancelTargetOf(client);
 * if (target) await sendCancelRequest(target, 1_000);
 * ```
 */
export function sendCancelRequest(target: CancelTarget, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = target.host.startsWith("/")
      ? connect(`${target.host}/.s.PGSQL.${target.port}`)
      : connect({ host: target.host, port: target.port });
    let settled = false;
    const finish = (delivered: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(delivered);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    timer.unref();
    socket.setNoDelay(true);
    socket.on("error", () => finish(false));
    socket.on("connect", () => {
      const packet = Buffer.alloc(16);
      packet.writeInt32BE(16, 0);
      packet.writeInt32BE(CANCEL_REQUEST_CODE, 4);
      packet.writeInt32BE(target.processID, 8);
      packet.writeInt32BE(target.secretKey, 12);
      socket.write(packet);
    });
    // The server answers nothing; closing the socket is its acknowledgement.
    socket.on("close", () => finish(true));
    socket.resume();
  });
}
