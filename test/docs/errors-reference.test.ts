// docs/errors.md must list every code a Steadfast error class can carry (found with the
// TypeScript compiler, so a new class or code is noticed), and its classification tables must
// say what classify() really answers.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import ts from "typescript";
import { SteadfastError } from "../../src/errors/base.js";
import type { Classification } from "../../src/errors/classification.js";
import { classify } from "../../src/errors/classify.js";
import { TimeoutError, type TimeoutPhase } from "../../src/errors/errors.js";
import { type MarkdownTable, plain, readRepoFile, tablesAfterMarkers } from "./markdown-tables.js";
import { ROOT, sourceFiles, sourceProgram } from "./source-program.js";

const tables = tablesAfterMarkers(readRepoFile("docs/errors.md"), "errors");

function table(id: string): MarkdownTable {
  const found = tables.get(id);
  assert.ok(found, `docs/errors.md has no <!-- errors: ${id} --> table`);
  return found;
}

/** The string literals a type stands for, or undefined when it is not (a union of) literals. */
function literals(type: ts.Type): string[] | undefined {
  const parts = type.isUnion() ? type.types : [type];
  const values = parts.map((t) => (t.isStringLiteral() ? t.value : undefined));
  return values.every((v) => v !== undefined) ? (values as string[]) : undefined;
}

interface ErrorClass {
  readonly name: string;
  /** The codes it can carry; undefined when its code is any string (chosen by the caller). */
  readonly codes: readonly string[] | undefined;
}

function extendsSteadfastError(type: ts.Type, checker: ts.TypeChecker): boolean {
  return (checker.getBaseTypes(type as ts.InterfaceType) ?? []).some(
    (base) => base.symbol?.name === "SteadfastError" || extendsSteadfastError(base, checker),
  );
}

/** Codes of a class: its own `declare readonly code: …`, else the literal its constructor passes to super. */
function codesOf(
  node: ts.ClassDeclaration,
  checker: ts.TypeChecker,
): readonly string[] | undefined {
  const declared = node.members.find(
    (m) => ts.isPropertyDeclaration(m) && m.name.getText() === "code",
  );
  if (declared) return literals(checker.getTypeAtLocation(declared));
  let found: readonly string[] | undefined;
  const visit = (n: ts.Node): void => {
    if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.SuperKeyword) {
      const first = n.arguments[0];
      found = first ? literals(checker.getTypeAtLocation(first)) : undefined;
    }
    ts.forEachChild(n, visit);
  };
  const ctor = node.members.find(ts.isConstructorDeclaration);
  if (ctor) visit(ctor);
  return found;
}

function steadfastErrorClasses(): ErrorClass[] {
  const checker = sourceProgram().getTypeChecker();
  const classes: ErrorClass[] = [];
  for (const file of sourceFiles()) {
    const visit = (node: ts.Node): void => {
      if (ts.isClassDeclaration(node) && node.name) {
        const type = checker.getTypeAtLocation(node);
        if (extendsSteadfastError(type, checker)) {
          classes.push({ name: node.name.text, codes: codesOf(node, checker) });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  return classes;
}

const errorClasses = steadfastErrorClasses();

test("every SteadfastError subclass has a known set of codes", () => {
  assert.ok(errorClasses.length >= 10, "the compiler found the error classes");
  const open = errorClasses.filter((c) => c.codes === undefined).map((c) => c.name);
  // HttpError carries the service's HTTP codes, checked against the "http" table below.
  assert.deepEqual(open, ["HttpError"], "a class whose code is any string cannot be documented");
});

test("docs/errors.md lists every error code, with its class, and no other", () => {
  const rows = table("codes").rows;
  const documented = rows.map((r) => plain(r.code ?? ""));
  const fromCode = errorClasses.flatMap((c) => c.codes ?? []);
  assert.deepEqual([...documented].sort(), [...new Set(fromCode)].sort());
  for (const c of errorClasses) {
    for (const code of c.codes ?? []) {
      const row = rows.find((r) => plain(r.code ?? "") === code);
      assert.ok(plain(row?.class ?? "").startsWith(c.name), `${code}: class should be ${c.name}`);
    }
  }
});

test('the "retried" column agrees with classify()', () => {
  for (const row of table("codes").rows) {
    const code = plain(row.code ?? "");
    const said = plain(row["retried by Steadfast?"] ?? "");
    assert.match(said, /^(yes|no|depends)\b/, `${code}: start with yes, no or depends`);
    if (said.startsWith("depends")) continue; // TIMEOUT: see the timeout-phases table
    const c = classify(new SteadfastError(code, "docs test"));
    if (said.startsWith("no")) assert.equal(c.retryableIfIdempotent, false, code);
    else assert.equal(c.retryable, true, code);
  }
});

const yesNo = (cell: string | undefined): boolean => {
  const text = plain(cell ?? "");
  assert.match(text, /^(yes|no)$/);
  return text === "yes";
};

/** Compares the yes/no columns a classification table has with what classify() said. */
function assertRow(row: Record<string, string>, c: Classification, where: string): void {
  const columns: [string, boolean][] = [
    ["retryable", c.retryable],
    ["if idempotent", c.retryableIfIdempotent],
    ["breaker counts it", c.infrastructure],
    ["connection destroyed", c.connectionBroken],
  ];
  for (const [column, actual] of columns) {
    if (column in row) assert.equal(yesNo(row[column]), actual, `${where}: ${column}`);
  }
  if ("kind" in row) assert.equal(plain(row.kind ?? ""), c.kind, `${where}: kind`);
}

test("timeout phases: every phase, classified as documented", () => {
  const checker = sourceProgram().getTypeChecker();
  const errorsFile = sourceFiles().find((f) => f.fileName.endsWith("src/errors/errors.ts"));
  const alias = errorsFile?.statements.find(
    (s): s is ts.TypeAliasDeclaration =>
      ts.isTypeAliasDeclaration(s) && s.name.text === "TimeoutPhase",
  );
  assert.ok(alias);
  const phases = literals(checker.getTypeAtLocation(alias)) ?? [];
  const rows = table("timeout-phases").rows;
  assert.deepEqual(rows.map((r) => plain(r.phase ?? "")).sort(), [...phases].sort());
  for (const row of rows) {
    const phase = plain(row.phase ?? "") as TimeoutPhase;
    assertRow(row, classify(new TimeoutError(1_000, phase)), `TIMEOUT ${phase}`);
  }
});

/** The text of one `const NAME = new Map(…)` (or array) initializer of classify.ts. */
function classifyBlock(name: string): string {
  const source = readFileSync(join(ROOT, "src/errors/classify.ts"), "utf8");
  const start = source.search(new RegExp(`const ${name}\\b`));
  assert.ok(start >= 0, `classify.ts has ${name}`);
  return source.slice(start, source.indexOf("\n]", start)); // the initializer's closing line
}

const all = (text: string, pattern: RegExp): string[] =>
  [...text.matchAll(pattern)].map((m) => m[1] ?? "");

test("SQLSTATE table: every SQLSTATE with its own rule, classified as documented", () => {
  const rows = table("sqlstate").rows;
  const documented = rows.map((r) => plain(r.SQLSTATE ?? ""));
  const fromCode = [
    ...all(classifyBlock("SQLSTATES"), /\["([0-9A-Z]{5})"/g),
    ...all(classifyBlock("SQLSTATE_CLASSES"), /\["([0-9A-Z]{2})"/g).map((c) => `${c}xxx`),
  ];
  for (const code of fromCode) assert.ok(documented.includes(code), `no row for ${code}`);
  for (const row of rows) {
    const sqlstate = plain(row.SQLSTATE ?? "").replace(/xxx$/, "000");
    const c = classify(
      Object.assign(new Error("docs test"), { code: sqlstate, severity: "ERROR" }),
    );
    assert.equal(c.code, `PG_${sqlstate}`);
    assertRow(row, c, sqlstate);
  }
});

test("Node error table: every Node code with its own rule, classified as documented", () => {
  const rows = table("node").rows;
  const codesIn = (row: Record<string, string>) =>
    plain(row["error `code`"] ?? "")
      .replace(/\s*\([^)]*\)/g, "")
      .split(/,\s*/);
  const documented = rows.flatMap(codesIn);
  for (const code of all(classifyBlock("NODE_CODES"), /"([A-Z_]+)"/g)) {
    assert.ok(documented.includes(code), `no row for ${code}`);
  }
  for (const row of rows) {
    for (const code of codesIn(row)) {
      assertRow(row, classify(Object.assign(new Error("docs test"), { code })), code);
    }
  }
});

test("message table: every code-less pg/PGlite error, classified as documented", () => {
  const rows = table("messages").rows;
  const documented = rows.map((r) => plain(r.code ?? ""));
  for (const code of all(classifyBlock("MESSAGES"), /"([A-Z_]+)"/g)) {
    assert.ok(documented.includes(code), `no row for ${code}`);
  }
  for (const row of rows) {
    const c = classify(new Error(plain(row.message ?? "")));
    assert.equal(c.code, plain(row.code ?? ""), row.message);
    assertRow(row, c, plain(row.code ?? ""));
  }
});

/** Every literal error code the HTTP layers (`src/http`, `src/server`) answer with. */
function httpCodes(): string[] {
  const patterns = [
    /(?:HttpError|problem|json)\(\s*\d{3},\s*"([A-Z_]+)"/g,
    /errorBody\(\s*"([A-Z_]+)"/g,
    /\bcode: "([A-Z_]+)"/g,
  ];
  const codes = new Set<string>();
  for (const dir of ["src/http", "src/server"]) {
    for (const entry of readdirSync(join(ROOT, dir), { recursive: true })) {
      const path = join(ROOT, dir, String(entry));
      if (!path.endsWith(".ts")) continue;
      const text = readFileSync(path, "utf8");
      for (const pattern of patterns) for (const code of all(text, pattern)) codes.add(code);
    }
  }
  return [...codes];
}

test("HTTP table: every code the HTTP handlers and the service answer with, and no other", () => {
  const documented = table("http").rows.map((r) => plain(r.code ?? ""));
  assert.deepEqual([...documented].sort(), httpCodes().sort());
});
