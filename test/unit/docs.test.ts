/**
 * The docs as a newcomer meets them: a README short enough to read first, that says how to start, whose
 * links lead somewhere, whose support matrix covers every store honestly, and no internal issue numbers.
 * Pure: reads files only.
 */
import { existsSync, readdirSync, readFileSync } from "fs";
import path from "path";
import { DRIVERS } from "../../provider/src/drivers";
import { Store } from "../../provider/src/model/requests";

const ROOT = path.resolve(__dirname, "..", "..");
const README = path.join(ROOT, "README.md");
const DOCS = path.join(ROOT, "docs");
const STORES = Object.keys(DRIVERS) as Store[];
const LAYERS = ["model", "native", "host", "drivers", "planner", "executor", "api", "adapters"];

const read = (file: string): string => readFileSync(file, "utf8");
const docFiles = (): string[] =>
  readdirSync(DOCS)
    .filter((f) => f.endsWith(".md"))
    .map((f) => path.join(DOCS, f));
const markdownFiles = (): string[] => [README, ...docFiles()];
const rel = (file: string): string => path.relative(ROOT, file);

/** The text outside fenced code blocks, where links and prose live. */
function prose(markdown: string): string {
  return markdown.replace(/^```[^\n]*\n[\s\S]*?^```[^\n]*$/gm, "");
}

/** The lines of `markdown` from the `## title` heading to the next `## ` heading. */
function section(markdown: string, title: string): string {
  const lines = markdown.split("\n");
  const start = lines.findIndex((l) => l.trim() === `## ${title}`);
  if (start < 0) throw new Error(`no "## ${title}" section`);
  const end = lines.findIndex((l, i) => i > start && l.startsWith("## "));
  return lines.slice(start + 1, end < 0 ? undefined : end).join("\n");
}

/** The relative link targets of a markdown file: inline links and images, minus URLs and pure anchors. */
function relativeLinks(markdown: string): string[] {
  const targets: string[] = [];
  for (const m of prose(markdown).matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push(m[1]);
  for (const m of prose(markdown).matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$/gm)) targets.push(m[1]);
  return targets.filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t) && !t.startsWith("#"));
}

describe("README.md", () => {
  const readme = read(README);

  it("is a first page: at most 120 lines", () => {
    const lines = readme.replace(/\n$/, "").split("\n").length;
    expect(lines).toBeLessThanOrEqual(120);
  });

  it("gives the two commands for a fresh machine", () => {
    expect(readme).toContain("npm run demo");
    expect(readme).toContain("npm test");
  });

  it("has a support matrix naming every store, and marks not kernel-verified exactly the drivers that say so", () => {
    const rows = section(readme, "Support matrix")
      .split("\n")
      .filter((l) => l.startsWith("|"))
      .map((l) => l.split("|").map((c) => c.trim()));
    const byStore = new Map(rows.map((cells) => [cells[1], cells.join(" | ")]));
    for (const store of STORES) expect(byStore.has(store)).toBe(true);
    // The drivers' own kernelVerified capability is the source of the matrix's claim.
    for (const store of STORES) {
      if (DRIVERS[store].caps.kernelVerified) expect(byStore.get(store)).not.toContain("not kernel-verified");
      else expect(byStore.get(store)).toContain("not kernel-verified");
    }
  });

  it("links to every page of docs/", () => {
    const linked = new Set(relativeLinks(readme).map((t) => path.resolve(ROOT, t.split("#")[0])));
    for (const doc of docFiles()) expect([...linked]).toContain(doc);
  });
});

describe("README.md and docs/", () => {
  it("have docs to link to", () => {
    expect(
      docFiles()
        .map((f) => path.basename(f))
        .sort(),
    ).toEqual(expect.arrayContaining(["benchmarks.md", "design.md", "development.md", "reliability.md"]));
  });

  it.each(markdownFiles().map((f) => [rel(f), f]))("%s: every relative link points to a file that exists", (_name, file) => {
    const broken = relativeLinks(read(file))
      .map((t) => decodeURIComponent(t.split("#")[0].split("?")[0]))
      .filter((t) => t !== "" && !existsSync(path.resolve(path.dirname(file), t)));
    expect(broken).toEqual([]);
  });

  it.each(markdownFiles().map((f) => [rel(f), f]))("%s: no internal issue numbers", (_name, file) => {
    const found = read(file)
      .split("\n")
      .flatMap((line, i) =>
        [...line.matchAll(/\b(?:issues?|PRs?|pull requests?)\s*(?:no\.?\s*)?#?\d+|(?:^|[^\w&/#-])#\d+\b/gi)].map(
          (m) => `${i + 1}: ${m[0].trim()}`,
        ),
      );
    expect(found).toEqual([]);
  });
});

describe("docs/design.md", () => {
  it("lays out provider/src as the layers of the core", () => {
    const design = read(path.join(DOCS, "design.md"));
    const tree = [...design.matchAll(/^```[^\n]*\n(provider\/src\/\n[\s\S]*?)^```/gm)].map((m) => m[1]);
    expect(tree).toHaveLength(1);
    const folders = tree[0]
      .split("\n")
      .map((l) => /^ {2}([\w-]+)\/\s/.exec(l)?.[1])
      .filter((f): f is string => f !== undefined);
    expect(folders).toEqual(LAYERS);
  });
});
