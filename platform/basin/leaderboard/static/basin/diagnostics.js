// The diagnostics page's charts, drawn with Plotly.js from the numbers the page embeds
// (#diagnostics-data: per submission, what the viewer may see now). No network requests.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("diagnostics-data").textContent);
  const config = { responsive: true, displaylogo: false };
  const splitColor = { train: "#1d3557", val: "#e76f51" };
  const webgl = (function () {
    try {
      const canvas = document.createElement("canvas");
      return !!(canvas.getContext("webgl") || canvas.getContext("experimental-webgl"));
    } catch (e) {
      return false;
    }
  })();

  // Before the reveal a student reads only a summary of the hidden split (the detail of numbers
  // computed from the model's outputs on hidden images could carry them out): say when it comes.
  function notShown(d, what) {
    return d.diagnostics.detail_after_reveal ? `${what}: shown when the private leaderboard is revealed`
                                             : `${what}: not computed`;
  }

  function missing(el, why) {
    el.classList.add("empty");
    const waiting = el.closest("section.panel").dataset.waiting;
    el.textContent = waiting ? "Diagnostics are being computed; reload this page in a minute." : why;
  }

  function layout(title, extra) {
    // Title on the left and a taller top margin: the hover toolbar sits top right, clear of the title.
    return Object.assign({ title: { text: title + titleSuffix, font: { size: 14 }, x: 0.01, xanchor: "left" }, margin: { l: 50, r: 20, t: 56, b: 45 },
                           height: 320 }, extra || {});
  }

  // A report that failed the grader's checks still draws, each model chart titled as such.
  const MODEL_CHARTS = new Set(["surface", "contour", "lines", "features"]);
  let titleSuffix = "";
  function untrusted(d) {
    const trust = d.diagnostics.model && d.diagnostics.model.trust;
    return !!trust && trust.trusted !== true;
  }

  const charts = {
    surface(el, d) {
      const grid = d.diagnostics.model && d.diagnostics.model.landscape && d.diagnostics.model.landscape.grid;
      const split = el.dataset.split;
      if (!grid || !grid[split]) return missing(el, "2D landscape: not computed");
      if (!webgl) return missing(el, "3D surface: this browser has no WebGL; the contour below shows the same grid");
      Plotly.newPlot(el, [{ type: "surface", x: grid.alphas, y: grid.betas, z: grid[split].loss, colorscale: "Viridis",
                            showscale: false }],
                     layout(`${split} loss surface`, { scene: { xaxis: { title: "α" }, yaxis: { title: "β" },
                                                                zaxis: { title: "loss" } } }), config);
    },
    contour(el, d) {
      const grid = d.diagnostics.model && d.diagnostics.model.landscape && d.diagnostics.model.landscape.grid;
      const split = el.dataset.split;
      if (!grid || !grid[split]) return missing(el, "2D landscape: not computed");
      Plotly.newPlot(el, [{ type: "contour", x: grid.alphas, y: grid.betas, z: grid[split].loss, colorscale: "Viridis",
                            contours: { coloring: "heatmap" } },
                          { type: "scatter", x: [0], y: [0], mode: "markers", marker: { color: "#fff", size: 8,
                            line: { color: "#000", width: 1 } }, name: "the model", showlegend: false }],
                     layout(`${split} loss contours`, { xaxis: { title: "α (direction 1)" },
                                                         yaxis: { title: "β (direction 2)" } }), config);
    },
    lines(el, d) {
      const ls = d.diagnostics.model && d.diagnostics.model.landscape;
      if (!ls || !ls.lines) return missing(el, "1D landscape: not computed");
      const traces = [];
      ls.lines.forEach((line, i) => {
        ["train", "val"].forEach((split) => traces.push({
          type: "scatter", mode: "lines", x: ls.alphas, y: line[split].loss, name: `direction ${i + 1} · ${split}`,
          line: { color: splitColor[split], dash: ["solid", "dash", "dot"][i] } }));
      });
      Plotly.newPlot(el, traces, layout("1D loss curves along three directions (train beside val)",
                                        { xaxis: { title: "α" }, yaxis: { title: "loss" } }), config);
    },
    reliability(el, d) {
      const c = d.diagnostics.public && d.diagnostics.public.calibration;
      if (!c || !c.reliability) return missing(el, notShown(d, "Reliability diagram"));
      const bins = c.reliability.filter((b) => b.count > 0);
      Plotly.newPlot(el, [
        { type: "bar", x: bins.map((b) => (b.lower + b.upper) / 2), y: bins.map((b) => b.accuracy), width: 1 / 15,
          name: "accuracy", marker: { color: "#457b9d" }, text: bins.map((b) => `${b.count} images`) },
        { type: "scatter", mode: "lines", x: [0, 1], y: [0, 1], name: "perfect", line: { color: "#999", dash: "dash" } },
      ], layout(`Reliability (ECE ${c.ece.toFixed(4)})`, { xaxis: { title: "confidence", range: [0, 1] },
                                                           yaxis: { title: "accuracy", range: [0, 1] } }), config);
    },
    margins(el, d) {
      const m = d.diagnostics.public && d.diagnostics.public.margins;
      if (!m) return missing(el, notShown(d, "Margins"));
      const edges = m.histogram.edges;
      Plotly.newPlot(el, [{ type: "bar", x: edges.slice(0, -1).map((e, i) => (e + edges[i + 1]) / 2),
                            y: m.histogram.counts, marker: { color: "#2a9d8f" }, name: "images" }],
                     layout(`Logit margins (10th percentile ${m.p10.toFixed(3)})`,
                            { xaxis: { title: "true logit − best other" }, yaxis: { title: "images" },
                              shapes: [{ type: "line", x0: 0, x1: 0, yref: "paper", y0: 0, y1: 1,
                                         line: { color: "#e63946" } }] }), config);
    },
    confusion(el, d) {
      const s = d.scores.public;
      if (!s || !s.confusion) return missing(el, notShown(d, "Confusion matrix"));
      const digits = [...Array(10).keys()].map(String);
      Plotly.newPlot(el, [{ type: "heatmap", z: s.confusion, x: digits, y: digits, colorscale: "Blues" }],
                     layout("Confusion matrix", { xaxis: { title: "predicted", type: "category" },
                                                  yaxis: { title: "true", type: "category", autorange: "reversed" } }),
                     config);
    },
    groups(el, d) {
      const g = d.diagnostics.public && d.diagnostics.public.by_paper_and_pen;
      if (!g || !g.groups.length) return missing(el, notShown(d, "Accuracy by paper × pen"));
      const papers = [...new Set(g.groups.map((r) => r.paper))];
      const pens = [...new Set(g.groups.map((r) => r.pen))];
      const z = papers.map((paper) => pens.map((pen) => {
        const r = g.groups.find((x) => x.paper === paper && x.pen === pen);
        return r ? r.accuracy : null;
      }));
      Plotly.newPlot(el, [{ type: "heatmap", z, x: pens, y: papers, colorscale: "RdYlGn", zmin: 0, zmax: 1 }],
                     layout(`Accuracy by paper × pen (worst: ${g.worst.paper} × ${g.worst.pen})`,
                            { xaxis: { title: "pen", type: "category" }, yaxis: { title: "paper", type: "category" } }),
                     config);
    },
    features(el, d) {
      const f = d.diagnostics.model && d.diagnostics.model.features;
      if (!f) return missing(el, "Feature view: not computed");
      const traces = [...Array(10).keys()].map((digit) => {
        const idx = f.labels.map((l, i) => (l === digit ? i : -1)).filter((i) => i >= 0);
        return { type: "scatter", mode: "markers", name: String(digit), x: idx.map((i) => f.points[i][0]),
                 y: idx.map((i) => f.points[i][1]), marker: { size: 5 } };
      });
      const ev = f.explained_variance;
      Plotly.newPlot(el, traces, layout("Penultimate-layer features, 2D PCA (val images, by true digit)", {
        xaxis: { title: `PC1 (${(100 * ev[0]).toFixed(1)}%)` }, yaxis: { title: `PC2 (${(100 * ev[1]).toFixed(1)}%)` },
        height: 420 }), config);
    },
  };

  document.querySelectorAll("section.panel").forEach((panel) => {
    const d = data[panel.dataset.submission];
    panel.querySelectorAll(".chart").forEach((el) => {
      titleSuffix = untrusted(d) && MODEL_CHARTS.has(el.dataset.chart) ? " (not trustworthy)" : "";
      charts[el.dataset.chart](el, d);
    });
  });
})();
