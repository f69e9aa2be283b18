// RiskOps charts: each <div class="chart" data-figure="ID"> is drawn from the Plotly figure
// the server wrote into <script type="application/json" id="ID"> (Django's json_script), on
// page load and whenever htmx swaps in new content. No inline script, so the strict CSP holds.
// Plotly itself is loaded (deferred) by the page before this module runs.

const drawn = new WeakSet();

function figureFor(element) {
  const source = document.getElementById(element.dataset.figure);
  return source ? JSON.parse(source.textContent) : null;
}

function draw(element) {
  if (drawn.has(element) || typeof window.Plotly === "undefined") return;
  const figure = figureFor(element);
  if (!figure) return;
  drawn.add(element);
  // The page's own font (CJK included) rather than Plotly's "Open Sans".
  const font = { family: getComputedStyle(document.body).fontFamily, size: 12 };
  const layout = { ...figure.layout, font: { ...font, ...(figure.layout || {}).font } };
  const config = { displayModeBar: false, responsive: true, ...figure.config };
  window.Plotly.newPlot(element, figure.data || [], layout, config);
}

function drawAll(root) {
  const scope = root instanceof Element || root instanceof Document ? root : document;
  if (scope instanceof Element && scope.matches("[data-figure]")) draw(scope);
  scope.querySelectorAll("[data-figure]").forEach(draw);
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", () => drawAll(document));
} else {
  drawAll(document);
}
// htmx:load fires for every piece of content htmx swaps in (a simulation, the score panel).
document.addEventListener("htmx:load", (event) => drawAll(event.target));
