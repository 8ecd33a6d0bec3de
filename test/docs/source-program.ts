import { fileURLToPath } from "node:url";
import ts from "typescript";

/** The repository root, as a path. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

let program: ts.Program | undefined;

/** The library's sources (`tsconfig.build.json`) as one type-checked program, made once. */
export function sourceProgram(): ts.Program {
  if (program) return program;
  const configPath = `${ROOT}tsconfig.build.json`;
  const config = ts.readConfigFile(configPath, ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT, undefined, configPath);
  program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  return program;
}

/** The program's own files under `src/`. */
export function sourceFiles(): ts.SourceFile[] {
  return sourceProgram()
    .getSourceFiles()
    .filter((file) => file.fileName.startsWith(`${ROOT}src/`));
}
