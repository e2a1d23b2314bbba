/**
 * The shell of every HTML page `pipe` writes (`plots show`, `plots diff`, `report`): one self-contained file that
 * opens offline. Vega, Vega-Lite and vega-embed are inlined from their npm packages (their minified builds, source
 * map comments removed), styles are inline, fonts are the system's, images are data URIs: the page makes no request.
 * Plots are Vega-Lite specs in `<script type="application/json">` blocks, embedded by one small script as SVG; the
 * rest of a page is plain HTML and SVG that needs no script.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);

/** Text safe inside HTML element content and attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** JSON safe inside a `<script>` element (no `</script>`, no `<!--`). */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/** The directory of an installed package (its `exports` hide `package.json` and the builds from `require.resolve`). */
function packageDir(name: string): string {
  let dir = path.dirname(require.resolve(name));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: string };
      if (pkg.name === name) return dir;
    } catch {
      // not the package root yet
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the directory of the package ${name}`);
    dir = up;
  }
}

let libraries: { code: string; versions: Record<string, string> } | undefined;

/** Vega, Vega-Lite and vega-embed as one inline script body, with their versions (read once per process). */
export function vegaLibraries(): { code: string; versions: Record<string, string> } {
  if (libraries) return libraries;
  const versions: Record<string, string> = {};
  const parts: string[] = [];
  for (const [name, file] of [
    ["vega", "build/vega.min.js"],
    ["vega-lite", "build/vega-lite.min.js"],
    ["vega-embed", "build/vega-embed.min.js"],
  ] as const) {
    const dir = packageDir(name);
    versions[name] = (JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { version: string }).version;
    const code = readFileSync(path.join(dir, file), "utf8")
      .replace(/\n\/\/# sourceMappingURL=\S*\s*$/, "\n")
      .replace(/<\/script/gi, "<\\/script");
    parts.push(`/* ${name} ${versions[name]} */\n${code}`);
  }
  libraries = { code: parts.join("\n"), versions };
  return libraries;
}

/**
 * Embeds every `<script type="application/json" data-plot="ID">` spec into the element `#ID` as SVG. A plot that
 * fails is said in its place and on the console; `document.body.dataset.plots` counts what was drawn.
 */
const EMBED = `(function(){
  var blocks = document.querySelectorAll('script[type="application/json"][data-plot]');
  var done = 0, failed = 0;
  function settle(){ document.body.dataset.plots = done + "/" + blocks.length; if (done + failed === blocks.length) document.body.dataset.plotsDone = "1"; }
  settle();
  blocks.forEach(function(b){
    var el = document.getElementById(b.dataset.plot);
    var spec = JSON.parse(b.textContent);
    vegaEmbed(el, spec, { renderer: "svg", actions: false, tooltip: true }).then(function(){ done++; el.dataset.rendered = "1"; settle(); })
      .catch(function(e){ failed++; el.textContent = "This plot could not be drawn: " + e.message; el.className += " failed"; console.error(e); settle(); });
  });
})();`;

export const BASE_CSS = `
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#fff;--panel:#f6f8fa;--fresh:#1a7f37;--stale:#cf222e;--frozen:#0969da;--never:#8c959f;--changed:#fff8c5}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
header,main,footer{max-width:1200px;margin:0 auto;padding:12px 16px}
header{border-bottom:1px solid var(--line)}
h1{font-size:20px;margin:4px 0}
h2{font-size:17px;margin:24px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
h3{font-size:14px;margin:0 0 6px;word-break:break-all}
.meta{color:var(--muted);font-size:13px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.scroll{overflow-x:auto;max-width:100%}
.plots{display:flex;flex-wrap:wrap;gap:16px}
.plot{border:1px solid var(--line);border-radius:6px;padding:8px;max-width:100%;overflow-x:auto;background:var(--bg)}
.plot .vega{min-height:40px}
.plot .failed{color:var(--stale)}
.images{display:flex;flex-wrap:wrap;gap:8px}
.images figure{margin:0}
.images img{max-width:min(100%,360px);height:auto;border:1px solid var(--line)}
.images figcaption{font-size:12px;color:var(--muted)}
table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
th{background:var(--panel)}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.changed{background:var(--changed);font-weight:600}
.noscript{color:var(--muted)}
@media (max-width:600px){header,main,footer{padding:8px}.plot{padding:4px}}
`;

export interface PageParts {
  title: string;
  /** Extra CSS. */
  css?: string;
  /** Already-escaped HTML of the body. */
  body: string;
  /** Whether the page holds plots (and so the Vega libraries). */
  plots: boolean;
}

/** The complete page. */
export function page(p: PageParts): string {
  const libs = p.plots ? vegaLibraries() : undefined;
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // No request may leave the page: the policy says so to the browser too.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data:">`,
    `<title>${esc(p.title)}</title>`,
    `<style>${BASE_CSS}${p.css ?? ""}</style>`,
    "</head>",
    "<body>",
    p.body,
    libs ? `<script>\n${libs.code}\n</script>\n<script>${EMBED}</script>` : "",
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
