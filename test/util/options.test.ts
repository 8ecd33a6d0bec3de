import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../src/errors/config-error.js";
import { parseDuration } from "../../src/util/duration.js";
import { OptionsReader } from "../../src/util/options.js";

describe("parseDuration", () => {
  const cases: [unknown, number | undefined][] = [
    [250, 250],
    [0, 0],
    ["250ms", 250],
    ["5s", 5_000],
    ["1.5s", 1_500],
    ["2m", 120_000],
    ["1h", 3_600_000],
    [" 10 s ", 10_000],
    ["250", 250],
    [-1, undefined],
    [Number.NaN, undefined],
    [Number.POSITIVE_INFINITY, undefined],
    ["5 minutes", undefined],
    ["-5s", undefined],
    ["", undefined],
    [null, undefined],
    [{}, undefined],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input) ?? String(input)} → ${expected}`, () => {
      assert.equal(parseDuration(input), expected);
    });
  }
});

describe("OptionsReader", () => {
  it("returns defaults for absent options and parses present ones", () => {
    const r = new OptionsReader({ base: "100ms", maxAttempts: 5 }, "retry", [
      "base",
      "maxAttempts",
      "cap",
    ]);
    assert.equal(r.duration("base", 50), 100);
    assert.equal(r.integer("maxAttempts", 3, { min: 1 }), 5);
    assert.equal(r.duration("cap", 2_000), 2_000);
    r.finish();
  });

  it("lists every bad field at once with the expected form and the received type", () => {
    const input = { maxAttempts: 0, base: "fast", jitter: "full", maxAtempts: 2 };
    const r = new OptionsReader(input, "retry", ["maxAttempts", "base", "jitter"]);
    r.integer("maxAttempts", 3, { min: 1 });
    r.duration("base", 50);
    r.oneOf("jitter", "decorrelated", ["decorrelated", "none"]);
    let err: ConfigError | undefined;
    try {
      r.finish();
    } catch (caught) {
      if (caught instanceof ConfigError) err = caught;
    }
    assert.ok(err, "expected a ConfigError");
    assert.equal(err.code, "CONFIG_INVALID");
    assert.deepEqual(
      err.issues.map((i) => i.field),
      ["retry.maxAtempts", "retry.maxAttempts", "retry.base", "retry.jitter"],
    );
    assert.match(err.issues[0]?.expected ?? "", /did you mean "maxAttempts"/);
    assert.match(err.issues[1]?.expected ?? "", /integer >= 1/);
    assert.match(err.issues[1]?.received ?? "", /number 0/);
    assert.match(err.message, /retry\.base: expected a duration/);
  });

  it("never echoes a secret value", () => {
    const r = new OptionsReader({ password: 12345 }, "", ["password"]);
    r.string("password", { secret: true });
    try {
      r.finish();
      assert.fail("expected a ConfigError");
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.doesNotMatch(err.message, /12345/);
      assert.match(err.message, /hidden/);
    }
  });

  it("rejects a non-object options value", () => {
    const r = new OptionsReader("fast", "pool", []);
    assert.throws(() => r.finish(), /pool: expected an options object, received the string "fast"/);
  });

  it("reports nested options under their dotted path", () => {
    const r = new OptionsReader({ pool: { max: -1 } }, "", ["pool"]);
    r.nested("pool", ["max"]).integer("max", 10, { min: 1 });
    assert.throws(() => r.finish(), /pool\.max: expected an integer >= 1, received number -1/);
  });
});
