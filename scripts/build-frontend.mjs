// Bundle the yjs demo page's editor (collab/frontend/) with esbuild into collab/static/collab/build/,
// which is git-ignored and served like the other static files. `make frontend` (and `make run`,
// `make test`) run this after `npm ci`.
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "collab", "static", "collab", "build");

const result = await build({
  entryPoints: [join(root, "collab", "frontend", "yjs-editor.js")],
  outdir,
  bundle: true,
  format: "esm",
  target: ["es2022"],
  minify: true,
  sourcemap: true,
  metafile: true,
  legalComments: "linked",
  logLevel: "warning",
});
const bytes = Object.entries(result.metafile.outputs)
  .filter(([path]) => path.endsWith(".js"))
  .reduce((sum, [, out]) => sum + out.bytes, 0);
console.log(`built ${outdir.slice(root.length + 1)}/yjs-editor.js (${Math.round(bytes / 1024)} KiB)`);
