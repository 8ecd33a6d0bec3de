import { readFileSync } from "node:fs";

/** One Markdown table: its header cells and its rows keyed by header. */
export interface MarkdownTable {
  readonly header: readonly string[];
  readonly rows: readonly Record<string, string>[];
}

/** Reads a file of the repository (paths relative to its root). */
export function readRepoFile(path: string): string {
  return readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");
}

/**
 * The tables of `markdown` that follow a `<!-- kind: id -->` comment, by id. Cells are trimmed;
 * `\|` inside a cell is a literal pipe.
 */
export function tablesAfterMarkers(markdown: string, kind: string): Map<string, MarkdownTable> {
  const lines = markdown.split("\n");
  const tables = new Map<string, MarkdownTable>();
  const marker = new RegExp(`^<!-- ${kind}: (\\S+) -->$`);
  lines.forEach((line, index) => {
    const id = marker.exec(line.trim())?.[1];
    if (id === undefined) return;
    if (tables.has(id)) throw new Error(`two tables marked ${kind}: ${id}`);
    let i = index + 1;
    while (lines[i]?.trim() === "") i++;
    const body: string[][] = [];
    while (lines[i]?.trim().startsWith("|")) body.push(splitRow(lines[i++] ?? ""));
    const [header, _separator, ...rows] = body;
    if (header === undefined) throw new Error(`no table after <!-- ${kind}: ${id} -->`);
    tables.set(id, {
      header,
      rows: rows.map((cells) => Object.fromEntries(header.map((h, c) => [h, cells[c] ?? ""]))),
    });
  });
  return tables;
}

function splitRow(line: string): string[] {
  const inner = line.trim().replace(/^\|/, "").replace(/\|$/, "");
  return inner.split(/(?<!\\)\|/).map((cell) => cell.trim().replaceAll("\\|", "|"));
}

/** A cell's text without the backticks of inline code. */
export function plain(cell: string): string {
  return cell.replaceAll("`", "").trim();
}
