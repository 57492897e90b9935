import { expect } from "chai";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");
const DOC = readFileSync(path.join(ROOT, "docs/threat-model.md"), "utf8");

interface Row {
  section: string;
  claim: string;
  shownBy: string;
}

/** Every row of every table: its section, its first cell (the claim) and its last (the tests). */
function rows(markdown: string): Row[] {
  const out: Row[] = [];
  let section = "";
  let header = true;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("#")) section = line.replace(/^#+\s*/, "");
    if (!line.startsWith("|")) {
      header = true;
      continue;
    }
    const cells = line
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((c) => c.trim());
    if (header || /^-+$/.test(cells[0]!)) {
      header = /^-+$/.test(cells[0]!) ? false : header;
      continue;
    }
    out.push({ section, claim: cells[0]!, shownBy: cells[cells.length - 1]! });
  }
  return out;
}

/**
 * A citation: `` `test/…` `` followed by ` › ` segments (describe blocks, then the test's
 * name). "…" in a segment stands for text the name builds from data (a template).
 */
function citations(cell: string): { file: string; segments: string[] }[] {
  return [...cell.matchAll(/`(test\/[^`]+)`((?:\s*›\s*[^;›`]+)*)/g)].map((m) => ({
    file: m[1]!,
    segments: m[2]!
      .split("›")
      .map((s) => s.trim())
      .filter((s) => s !== ""),
  }));
}

describe("docs/threat-model.md", () => {
  const table = rows(DOC);

  it("has a table row for every kind of attacker and fault it names", () => {
    expect(table.length).to.be.at.least(60);
  });

  it("names, for every claim, at least one test", () => {
    const bare = table.filter((r) => citations(r.shownBy).length === 0).map((r) => `${r.section}: ${r.claim}`);
    expect(bare).to.deep.equal([]);
  });

  it("names only tests and vectors that exist, by the words of their names", () => {
    const missing: string[] = [];
    for (const row of table) {
      for (const { file, segments } of citations(row.shownBy)) {
        const full = path.join(ROOT, file);
        if (!existsSync(full)) {
          missing.push(`${file} (no such file)`);
          continue;
        }
        const text = readFileSync(full, "utf8");
        for (const segment of segments) {
          for (const piece of segment.split("…").map((p) => p.trim())) {
            if (piece !== "" && !text.includes(piece)) missing.push(`${file} › ${piece}`);
          }
        }
      }
    }
    expect(missing).to.deep.equal([]);
  });
});

describe("README.md", () => {
  it("warns that the operator of the embedded development chain can rewrite it", () => {
    const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
    const text = readme.replace(/\s+/g, " ");
    expect(text).to.include("single-node development chain");
    expect(text).to.include("whoever operates the machine can rewrite it");
  });
});
