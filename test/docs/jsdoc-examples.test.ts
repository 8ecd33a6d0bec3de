// The issue asks that every public export has JSDoc with an example. TypeDoc checks that every
// export is documented; this checks that every exported function and class of the public entry
// points (package.json "exports") shows how it is used.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import ts from "typescript";
import { ROOT, sourceProgram } from "./source-program.js";

/** The source file behind each public subpath, from package.json's "exports". */
function entryPoints(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    exports: Record<string, string | { import?: string }>;
  };
  return Object.values(pkg.exports)
    .map((target) => (typeof target === "string" ? target : target.import))
    .filter((target): target is string => target?.startsWith("./dist/") === true)
    .map((target) => join(ROOT, target.replace("./dist/", "src/").replace(/\.js$/, ".ts")));
}

const isCallableOrClass = (d: ts.Declaration): boolean =>
  ts.isFunctionDeclaration(d) || ts.isClassDeclaration(d);

/** Exported functions and classes without an `@example`, as `subpath file: name`. */
function missingExamples(): string[] {
  const program = sourceProgram();
  const checker = program.getTypeChecker();
  const missing = new Set<string>();
  for (const entry of entryPoints()) {
    const file = program.getSourceFile(entry);
    assert.ok(file, `${entry} is part of the program`);
    const moduleSymbol = checker.getSymbolAtLocation(file);
    assert.ok(moduleSymbol, `${entry} is a module`);
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const symbol =
        exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const declarations = (symbol.declarations ?? []).filter(isCallableOrClass);
      if (declarations.length === 0) continue;
      const hasExample = declarations.some((d) =>
        ts.getJSDocTags(d).some((tag) => tag.tagName.text === "example"),
      );
      if (!hasExample) {
        const where = declarations[0]?.getSourceFile().fileName.replace(ROOT, "") ?? "?";
        missing.add(`${where}: ${exported.name}`);
      }
    }
  }
  return [...missing].sort();
}

test("every exported function and class of the public entry points has an @example", () => {
  assert.deepEqual(missingExamples(), []);
});
