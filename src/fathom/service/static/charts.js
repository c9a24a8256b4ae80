// Small inline SVG charts for the status page (no library): a bar chart of counts over time and a line chart of
// one value per model version. Each chart is an <svg role="img"> named by its <title> and <desc>; every bar or
// point carries its own <title> (a tooltip) and data-* attributes with its value.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
let chartIds = 0;

function svgEl(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// an <svg> with an accessible name (title) and description, its viewBox width x height
function chartFrame(width, height, title, description, cls) {
  const id = `chart-${++chartIds}`;
  return svgEl("svg", {viewBox: `0 0 ${width} ${height}`, role: "img", class: cls,
                       "aria-labelledby": `${id}-title ${id}-desc`},
    svgEl("title", {id: `${id}-title`}, title),
    svgEl("desc", {id: `${id}-desc`}, description));
}

// a round upper bound for an axis, at least ``max``: 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten
function niceMax(max) {
  if (!(max > 0)) return 1;
  const step = 10 ** Math.floor(Math.log10(max));
  return [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].map((m) => m * step).find((v) => v >= max * (1 - 1e-12));
}

// an axis label: 950, 1.2k, 120k, 3.5M; fractions with two digits
function short(x) {
  if (!Number.isInteger(x)) return fmt(x, 2);
  for (const [size, unit] of [[1e9, "G"], [1e6, "M"], [1e3, "k"]]) {
    if (Math.abs(x) >= size) return `${+(x / size).toFixed(1)}${unit}`;
  }
  return String(x);
}

const PAD = {left: 40, right: 12, top: 10, bottom: 24};
const anchor = (i, n) => (i === 0 ? "start" : i === n - 1 ? "end" : "middle");

// bars of ``counts``, bucket i covering [start + i * bucketS, start + (i + 1) * bucketS) in epoch seconds;
// ``when`` formats a bucket's start time for labels and tooltips; ``width``: the container's width in pixels
function barChart({counts, start, bucketS, title, unit, when, width = 640}) {
  const height = 170;
  const total = counts.reduce((a, b) => a + b, 0);
  const peak = Math.max(0, ...counts);
  const peakAt = counts.indexOf(peak);
  const description = total
    ? `${fmt(total)} ${unit} in total; at most ${fmt(peak)} in the bucket from ${when(start + peakAt * bucketS)}.`
    : `No ${unit} in this period.`;
  const svg = chartFrame(width, height, title, description, "bar-chart");
  svg.dataset.start = String(start);
  svg.dataset.bucketS = String(bucketS);
  svg.dataset.total = String(total);
  const top = niceMax(peak);
  const plotW = width - PAD.left - PAD.right, plotH = height - PAD.top - PAD.bottom;
  const slot = plotW / counts.length;
  const y = (v) => PAD.top + plotH - (v / top) * plotH;
  svg.append(
    svgEl("line", {class: "axis", x1: PAD.left, x2: width - PAD.right, y1: y(0), y2: y(0)}),
    svgEl("line", {class: "axis", x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: y(0)}),
    svgEl("text", {class: "label", x: PAD.left - 6, y: y(top) + 4, "text-anchor": "end"}, short(top)),
    svgEl("text", {class: "label", x: PAD.left - 6, y: y(0), "text-anchor": "end"}, "0"));
  counts.forEach((count, i) => {
    const from = start + i * bucketS;
    const h = y(0) - y(count);
    svg.append(svgEl("rect", {class: "bar", x: (PAD.left + i * slot + slot * 0.1).toFixed(1), width: (slot * 0.8).toFixed(1),
                              y: y(count).toFixed(1), height: Math.max(h, count ? 1 : 0).toFixed(1),
                              "data-count": count, "data-start": from},
      svgEl("title", {}, `${when(from)}: ${fmt(count)} ${unit}`)));
  });
  const ticks = [0, Math.floor(counts.length / 2), counts.length - 1];
  ticks.forEach((i, n) => {
    const x = n === 0 ? PAD.left : n === ticks.length - 1 ? width - PAD.right : PAD.left + (i + 0.5) * slot;
    svg.append(svgEl("text", {class: "label", x: x.toFixed(1), y: height - 6, "text-anchor": anchor(n, ticks.length)},
      when(start + i * bucketS)));
  });
  return svg;
}

// one point per entry of ``points`` ({label, value, tooltip, active, key}), joined by a line, y from 0
function lineChart({points, title, empty, width = 640}) {
  const height = 190;
  const description = points.length
    ? points.map((p) => p.tooltip).join("; ") + "."
    : empty;
  const svg = chartFrame(width, height, title, description, "line-chart");
  if (!points.length) {
    svg.append(svgEl("text", {class: "empty", x: width / 2, y: height / 2, "text-anchor": "middle"}, empty));
    return svg;
  }
  const top = niceMax(Math.max(...points.map((p) => p.value)));
  const padTop = PAD.top + 14;  // room for the value written above the highest point
  const plotW = width - PAD.left - PAD.right, plotH = height - padTop - PAD.bottom;
  const slot = plotW / points.length;
  const x = (i) => PAD.left + (i + 0.5) * slot;
  const y = (v) => padTop + plotH - (Math.max(v, 0) / top) * plotH;
  svg.append(
    svgEl("line", {class: "axis", x1: PAD.left, x2: width - PAD.right, y1: y(0), y2: y(0)}),
    svgEl("line", {class: "axis", x1: PAD.left, x2: PAD.left, y1: y(top), y2: y(0)}),
    svgEl("text", {class: "label", x: PAD.left - 6, y: y(top) + 4, "text-anchor": "end"}, short(top)),
    svgEl("text", {class: "label", x: PAD.left - 6, y: y(0), "text-anchor": "end"}, "0"));
  if (points.length > 1) {
    svg.append(svgEl("polyline", {class: "line",
                                  points: points.map((p, i) => `${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ")}));
  }
  points.forEach((p, i) => {
    svg.append(
      svgEl("circle", {class: p.active ? "point active" : "point", cx: x(i).toFixed(1), cy: y(p.value).toFixed(1), r: 5,
                       "data-key": p.key, "data-value": p.value},
        svgEl("title", {}, p.tooltip)),
      svgEl("text", {class: "label", x: x(i).toFixed(1), y: height - 6, "text-anchor": "middle"}, p.label));
    if (points.length <= 24) {
      svg.append(svgEl("text", {class: "label value", x: x(i).toFixed(1), y: (y(p.value) - 9).toFixed(1),
                                "text-anchor": "middle"}, fmt(p.value, 3)));
    }
  });
  return svg;
}
