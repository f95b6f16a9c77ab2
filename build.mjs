// Bundle js/widget.ts (and its CSS) into nni_jupyter/static/ as one minified ES module.
// Usage: node build.mjs [--watch]
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

if (process.argv.includes("--watch")) {
  const context = await esbuild.context({ ...options, minify: false, sourcemap: "inline" });
  await context.watch();
} else {
  await esbuild.build(options);
}
