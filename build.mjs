// Bundle js/widget.ts (and its CSS) into nni_jupyter/static/ as one minified ES module.
// Usage: node build.mjs [--dev] [--watch]   (--dev: readable output with an inline source map)
import * as esbuild from "esbuild";

const options = {
  entryPoints: { widget: "js/widget.ts" },
  bundle: true,
  format: "esm",
  minify: true,
  target: ["es2022"],
  outdir: "nni_jupyter/static",
  sourcemap: false,
  legalComments: "none",
  logLevel: "info",
};

const dev = process.argv.includes("--dev") || process.argv.includes("--watch");
const settings = dev ? { ...options, minify: false, sourcemap: "inline" } : options;

if (process.argv.includes("--watch")) {
  const context = await esbuild.context(settings);
  await context.watch();
} else {
  await esbuild.build(settings);
}
