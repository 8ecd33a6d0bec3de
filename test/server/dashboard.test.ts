import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { after, describe, it } from "node:test";
import { chromium } from "playwright-core";
import { dashboardPlugin } from "../../src/server/dashboard/index.js";
import { type Service, startService } from "../../src/server/service.js";
import { startFaultProxy } from "../../src/testing/fault-proxy.js";
import { freshDatabase } from "../helpers/db.js";
import { waitFor } from "../helpers/wait.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = new URL("../../test-artifacts/", import.meta.url);

const target = await freshDatabase("dashboard");
const url = new URL(target.url);
const proxy = await startFaultProxy({ target: { host: url.hostname, port: Number(url.port) } });
const services: Service[] = [];
after(async () => {
  await Promise.all(services.map((s) => s.close()));
  await proxy.close();
});

describe("the dashboard in a real browser", () => {
  it("loads, charts live data, and a chaos button moves the latency chart", async () => {
    assert.ok(existsSync(CHROMIUM), `Chromium is missing at ${CHROMIUM}: apt-get install chromium`);
    const service = await startService({
      databaseUrl: proxy.url(target.url),
      port: 0,
      drainMs: 2_000,
      plugins: [dashboardPlugin({ chaos: proxy })],
    });
    services.push(service);
    // Background traffic so the charts have something to show.
    let load = true;
    const traffic = (async () => {
      await fetch(`${service.url}/kv/demo/k`, { method: "PUT", body: "1" });
      while (load) await fetch(`${service.url}/kv/demo/k`).then((r) => r.arrayBuffer());
    })();
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(service.url);
      await page.waitForFunction(
        () => (window as unknown as { steadfast: { samples: number } }).steadfast.samples >= 2,
        null,
        {
          timeout: 10_000,
        },
      );
      const throughput = await page.evaluate(() => {
        const w = window as unknown as { steadfast: { charts: { data: number[][] }[] } };
        return Math.max(...(w.steadfast.charts[1]?.data[1] ?? []).map(Number));
      });
      assert.ok(throughput > 0, `the throughput chart received data (${throughput} calls/s)`);
      await page.waitForFunction(
        () => document.querySelector("#status")?.textContent === "pass",
        null,
        { timeout: 5_000 },
      );

      await page.click(`button:has-text("Add 200 ms latency")`);
      await waitFor("the proxy to get the latency", () => proxy.stats().faults.latencyMs === 200);
      await page.waitForFunction(
        () => {
          const w = window as unknown as { steadfast: { charts: { data: (number | null)[][] }[] } };
          const p50 = w.steadfast.charts[0]?.data[1] ?? [];
          return Number(p50.at(-1)) >= 300;
        },
        null,
        { timeout: 10_000 },
      );
      mkdirSync(ARTIFACTS, { recursive: true });
      const shot = new URL("dashboard.png", ARTIFACTS);
      await page.screenshot({ path: shot.pathname, fullPage: true });
      console.log(`# dashboard screenshot: ${shot.pathname}`);
      await page.click(`button[data-action="heal"]`);
      await waitFor("the heal to reach the proxy", () => proxy.stats().faults.latencyMs === 0);
      assert.deepEqual(errors, []);
    } finally {
      load = false;
      await traffic;
      await browser.close();
    }
  });

  it("without --chaos the controls and their endpoints do not exist", async () => {
    const service = await startService({
      databaseUrl: target.url,
      port: 0,
      plugins: [dashboardPlugin()],
    });
    services.push(service);
    const html = await (await fetch(service.url)).text();
    assert.doesNotMatch(html, /id="chaos"/);
    const kill = await fetch(`${service.url}/chaos/kill`, { method: "POST" });
    assert.equal(kill.status, 404);
    assert.equal((await fetch(`${service.url}/assets/uplot.iife.min.js`)).status, 200);
  });
});
