/**
 * Built plots as HTML (a section of `plots show`/`diff` pages and of the report) and as the `--json` document of
 * `plots show`/`diff` (described by `schemas/plots.json`).
 */
import { esc, page, scriptJson } from "../html.js";
import type { BuiltPlot } from "./build.js";

/** The plots as a flex row of cards; `prefix` keeps element ids unique on a page. */
export function plotsHtml(plots: readonly BuiltPlot[], prefix = "plot"): string {
  if (plots.length === 0) return '<p class="meta">No plots: declare them under a stage\'s <code>plots:</code> or in the top-level <code>plots:</code> list.</p>';
  const cards = plots.map((p, i) => {
    const id = `${prefix}-${i}`;
    const revs = p.revisions.length > 0 ? `<div class="meta">${p.revisions.map(esc).join(", ")}</div>` : "";
    if (p.kind === "image") {
      const figs = p.images.map((im) => `<figure><img src="${im.src}" alt="${esc(`${p.id} at ${im.rev}`)}"><figcaption>${esc(im.rev)}</figcaption></figure>`).join("");
      return `<section class="plot image" data-id="${esc(p.id)}"><h3>${esc(p.id)}</h3><div class="images">${figs}</div></section>`;
    }
    return [
      `<section class="plot" data-id="${esc(p.id)}" data-points="${p.points}" data-template="${esc(p.template)}">`,
      `<h3>${esc(p.id)}</h3>${revs}`,
      `<div class="vega" id="${id}"><noscript><span class="noscript">Plots are drawn by JavaScript, which is off.</span></noscript></div>`,
      `<script type="application/json" data-plot="${id}">${scriptJson(p.spec)}</script>`,
      "</section>",
    ].join("");
  });
  return `<div class="plots">\n${cards.join("\n")}\n</div>`;
}

/** The whole `plots show`/`plots diff` page. */
export function plotsPage(title: string, plots: readonly BuiltPlot[], subtitle: string): string {
  const body = [`<header><h1>${esc(title)}</h1><div class="meta">${esc(subtitle)}</div></header>`, `<main>${plotsHtml(plots)}</main>`].join("\n");
  return page({ title, body, plots: plots.some((p) => p.kind === "vega") });
}

/** The `--json` document: each plot with its filled spec (the data is inside it) or its images. */
export function plotsJson(plots: readonly BuiltPlot[], errors: readonly { message: string }[]): unknown {
  return {
    plots: plots.map((p) =>
      p.kind === "vega"
        ? { id: p.id, type: "vega", revisions: p.revisions, template: p.template, datapoints: p.points, content: p.spec }
        : { id: p.id, type: "image", revisions: p.revisions, images: p.images.map((i) => ({ revision: i.rev, url: i.src })) },
    ),
    errors: errors.map((e) => e.message),
  };
}
