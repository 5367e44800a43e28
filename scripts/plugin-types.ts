// Generates types/hoard-plugin.d.ts: the public plugin API (src/kernel/plugin.ts) as an ambient
// `declare module "hoard/plugin"` a third-party plugin author copies or references. `--check` fails if stale.
//
//   bun scripts/plugin-types.ts          write types/hoard-plugin.d.ts
//   bun scripts/plugin-types.ts --check  exit 1 when the committed file differs from a fresh one

import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const SOURCE = join(ROOT, "src/kernel/plugin.ts");
export const TARGET = join(ROOT, "types/hoard-plugin.d.ts");

/**
 * The declaration text of plugin.ts and of the parts it re-exports (`export type * from "./…"`),
 * as one module: the parts first, in the order re-exported, their imports of each other dropped
 * and their package imports merged.
 */
function declarations(): string {
  const parts = [...readFileSync(SOURCE, "utf8").matchAll(/^export type \* from "\.\/([^"]+)";$/gm)].map((m) => join(dirname(SOURCE), m[1]!));
  const files = [...parts, SOURCE];
  const program = ts.createProgram(files, {
    declaration: true,
    emitDeclarationOnly: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    allowImportingTsExtensions: true,
    strict: true,
    skipLibCheck: true,
    types: [],
  });
  const texts: string[] = [];
  const diags = [...ts.getPreEmitDiagnostics(program)];
  for (const f of files) {
    let text = "";
    const res = program.emit(program.getSourceFile(f), (name, t) => {
      if (name.endsWith(".d.ts")) text = t;
    });
    diags.push(...res.diagnostics);
    if (!text) throw new Error(`no declarations emitted for ${f}`);
    texts.push(text);
  }
  const errors = diags.filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length) throw new Error(ts.formatDiagnostics(errors, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => "\n" }));
  // package imports, merged: named ones per package, namespace ones as they are
  const named = new Map<string, Set<string>>();
  const namespaces = new Set<string>();
  const bodies = texts.map((t) =>
    t
      .split("\n")
      .filter((l) => {
        if (/^(import|export) type .* from "\.\/[^"]+";$/.test(l)) return false; // the parts, bundled here
        const n = /^import type \{ (.*) \} from "([^"]+)";$/.exec(l);
        if (n) {
          const set = named.get(n[2]!) ?? new Set<string>();
          for (const x of n[1]!.split(",")) set.add(x.trim());
          named.set(n[2]!, set);
          return false;
        }
        if (!/^import type \* as \w+ from "[^"]+";$/.test(l)) return true;
        namespaces.add(l);
        return false;
      })
      .join("\n")
      .trim(),
  );
  const imports = [...[...named].map(([from, xs]) => `import type { ${[...xs].join(", ")} } from "${from}";`), ...namespaces];
  return [imports.join("\n"), ...bodies].join("\n\n") + "\n";
}

/** The declaration text of plugin.ts (with its parts), wrapped as module "hoard/plugin", types only. */
export function generate(): string {
  const out = declarations();
  // A plugin loaded from disk cannot import hoard's runtime values (the module does not exist at
  // run time): keep the types only, so `import type { … } from "hoard/plugin"` is all an author can write.
  const body = out
    .replace(/^\/\*\*(?:(?!\*\/)[\s\S])*\*\/\s*\nexport declare function definePlugin[^\n]*\n/m, "")
    .replace(/^export declare function definePlugin[^\n]*\n/m, "")
    .replace(/^export declare const API_VERSION = (\d+);$/m, "/** The plugin API version this hoard provides: a plugin declares `apiVersion: $1`. */\nexport type ApiVersion = $1;")
    .trimEnd();
  if (/export declare (function|const|let|class)/.test(body)) throw new Error("plugin.ts gained a runtime export: plugins cannot import values; extend the generator or keep plugin.ts types-only");
  const indented = body.split("\n").map((l) => (l ? "    " + l : l)).join("\n");
  return [
    "// Types of hoard's plugin API, for third-party plugin authors. GENERATED from src/kernel/plugin.ts",
    "// by `bun scripts/plugin-types.ts`; do not edit. Use: `import type { Plugin } from \"hoard/plugin\"`.",
    "// api.v is valibot: install it as a dev dependency (`npm i -D valibot@1`) for its types; a plugin",
    "// must not import it (or any package) at run time — everything comes through `api`.",
    "",
    'declare module "hoard/plugin" {',
    indented,
    "}",
    "",
  ].join("\n");
}

if (import.meta.main) {
  const fresh = generate();
  if (process.argv.includes("--check")) {
    let cur = "";
    try {
      cur = readFileSync(TARGET, "utf8");
    } catch {}
    if (cur !== fresh) {
      process.stderr.write(`${TARGET} is out of date with src/kernel/plugin.ts: run \`bun scripts/plugin-types.ts\`\n`);
      process.exit(1);
    }
  } else {
    mkdirSync(dirname(TARGET), { recursive: true });
    writeFileSync(TARGET, fresh);
    process.stdout.write(`wrote ${TARGET}\n`);
  }
}
