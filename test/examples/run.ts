import { type ChildProcess, execFile, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The repository root: examples run from here so `steadfast` resolves to this package's `dist/`. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

const children = new Set<ChildProcess>();

/**
 * The environment of an example: ours plus `env`, minus `NODE_TEST_CONTEXT`, which the test
 * runner sets for its own children: a `node --test` child seeing it would report to us in the
 * runner's internal protocol instead of printing its results.
 */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, ...rest } = process.env;
  return { ...rest, ...env };
}

/** Kills (SIGKILL) every example process still running; call from `after`. */
export function killChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  children.clear();
}

/**
 * Runs `npm run build` once, bounded: the examples import `steadfast` through the package's
 * own `exports`, which point at `dist/`, so a stale build would test old code.
 */
export function build(timeoutMs = 120_000): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("npm", ["run", "build"], { cwd: ROOT, timeout: timeoutMs }, (error, stdout, stderr) =>
      error
        ? reject(new Error(`npm run build failed: ${error.message}\n${stdout}${stderr}`))
        : resolve(),
    );
  });
}

export interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node --import tsx <file> ...args` from the repository root to completion, bounded. */
export function runExample(
  file: string,
  env: Record<string, string>,
  { args = [], timeoutMs = 30_000 }: { args?: string[]; timeoutMs?: number } = {},
): Promise<Finished> {
  const child = spawn(process.execPath, ["--import", "tsx", ...args, file], {
    cwd: ROOT,
    env: childEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${file} did not exit in ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface Started {
  readonly child: ChildProcess;
  readonly match: RegExpExecArray;
  /** Everything the process wrote so far (stdout and stderr), growing. */
  output(): string;
  /** Resolves with the exit code once the process exits. */
  readonly exit: Promise<number | null>;
}

/** Starts a long-running example and waits (bounded) until `ready` matches its stdout. */
export function startExample(
  file: string,
  env: Record<string, string>,
  ready: RegExp,
  timeoutMs = 20_000,
): Promise<Started> {
  const child = spawn(process.execPath, ["--import", "tsx", file], {
    cwd: ROOT,
    env: childEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let output = "";
  const exit = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${file} not ready in ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const match = ready.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match, output: () => output, exit });
      }
    });
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited with ${code} before it was ready:\n${output}`));
    });
  });
}

/** Awaits `promise`, failing after `ms` with `what` in the message. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
