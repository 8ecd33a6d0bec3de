import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Attributes, Meter, Tracer } from "@opentelemetry/api";
import { otelMetrics } from "../../src/index.js";
import { databaseUnderTest } from "../helpers/database.js";

const { database } = await databaseUnderTest("otel");

/** The part of the Meter API Steadfast uses, recording what it receives. */
function recordingMeter() {
  const records: { name: string; value: number; attributes: Attributes }[] = [];
  const callbacks: {
    name: string;
    cb: (r: { observe(v: number, a?: Attributes): void }) => void;
  }[] = [];
  const instrument = (name: string) => ({
    record: (value: number, attributes: Attributes = {}) =>
      records.push({ name, value, attributes }),
    add: (value: number, attributes: Attributes = {}) => records.push({ name, value, attributes }),
  });
  const meter = {
    createHistogram: instrument,
    createCounter: instrument,
    createObservableUpDownCounter: (name: string) => ({
      addCallback: (cb: (typeof callbacks)[number]["cb"]) => callbacks.push({ name, cb }),
    }),
  } as unknown as Meter;
  const observe = () => {
    const seen: { name: string; value: number; attributes: Attributes }[] = [];
    for (const { name, cb } of callbacks)
      cb({ observe: (value, attributes = {}) => seen.push({ name, value, attributes }) });
    return seen;
  };
  return { meter, records, observe };
}

describe("OpenTelemetry", () => {
  it("without an SDK it runs on the API's no-ops", async () => {
    const db = database();
    const stop = otelMetrics(db);
    await db.read("SELECT 1");
    stop();
  });

  it("feeds the conventions' instruments and one span per call, with bounded attributes", async () => {
    const db = database();
    const { meter, records, observe } = recordingMeter();
    const spans: {
      name: string;
      attributes: Attributes;
      ended: boolean;
      status: number | undefined;
    }[] = [];
    const tracer = {
      startSpan: (name: string, options: { attributes: Attributes }) => {
        const span = {
          name,
          attributes: options.attributes,
          ended: false,
          status: undefined as number | undefined,
        };
        spans.push(span);
        return {
          setStatus: (s: { code: number }) => (span.status = s.code),
          end: () => (span.ended = true),
        };
      },
    } as unknown as Tracer;
    otelMetrics(db, { meter, tracer, poolName: "main" });
    await db.read("SELECT 1");
    await db.write("SELECT 2");
    await assert.rejects(db.read("SELEC"));
    const durations = records.filter((r) => r.name === "db.client.operation.duration");
    assert.equal(durations.length, 3);
    assert.deepEqual(
      durations.map((d) => d.attributes["db.operation.name"]),
      ["read", "write", "read"],
    );
    assert.equal(durations[2]?.attributes["error.type"], "PG_42601");
    assert.equal(durations[0]?.attributes["db.system.name"], "postgresql");
    assert.ok(records.some((r) => r.name === "db.client.connection.wait_time"));
    const observed = observe();
    const idle = observed.find(
      (o) =>
        o.name === "db.client.connection.count" &&
        o.attributes["db.client.connection.state"] === "idle",
    );
    assert.equal(idle?.value, db.pool.stats().idle);
    assert.equal(
      observed.find((o) => o.name === "db.client.connection.max")?.attributes[
        "db.client.connection.pool.name"
      ],
      "main",
    );
    assert.equal(spans.length, 3);
    assert.ok(spans.every((s) => s.ended));
    assert.equal(spans[2]?.status, 2);
    assert.doesNotMatch(JSON.stringify([records, spans]), /SELEC|SELECT/);
  });
});
