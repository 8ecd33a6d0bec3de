import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { LiveStats, Sample } from "./live-stats.js";
import { dashboardHtml } from "./page.js";

const MAX_STREAMS = 50;

/** Serves the dashboard page, its assets (uPlot from the package, so it works offline) and `/events`. */
export function dashboardRoutes(
  stats: LiveStats,
  options: { chaos: boolean; target: string },
): (app: Hono) => void {
  const require = createRequire(import.meta.url);
  const asset = (file: string) => readFileSync(require.resolve(`uplot/dist/${file}`));
  const script = asset("uPlot.iife.min.js");
  const css = asset("uPlot.min.css");
  const html = dashboardHtml(options);
  let streams = 0;
  return (app) => {
    app.get("/", (c) => c.html(html));
    app.get("/assets/uplot.iife.min.js", (c) =>
      c.body(script, 200, {
        "content-type": "text/javascript",
        "cache-control": "public, max-age=86400",
      }),
    );
    app.get("/assets/uplot.min.css", (c) =>
      c.body(css, 200, { "content-type": "text/css", "cache-control": "public, max-age=86400" }),
    );
    app.get("/events", (c) => {
      if (streams >= MAX_STREAMS) {
        return c.json(
          { error: { code: "TOO_MANY_STREAMS", message: "Too many dashboard streams open" } },
          503,
        );
      }
      streams++;
      return streamSSE(c, async (stream) => {
        const queue: Sample[] = [];
        let wake: (() => void) | undefined;
        const off = stats.subscribe(
          (sample) => {
            if (queue.length < 10) queue.push(sample);
            wake?.();
          },
          () => wake?.(),
        );
        stream.onAbort(() => wake?.());
        try {
          await stream.writeSSE({ event: "history", data: JSON.stringify(stats.history()) });
          while (!stream.aborted && !stats.stopped) {
            const next = queue.shift();
            if (next) await stream.writeSSE({ event: "sample", data: JSON.stringify(next) });
            else await new Promise<void>((resolve) => (wake = resolve));
          }
        } finally {
          off();
          streams--;
        }
      });
    });
  };
}
