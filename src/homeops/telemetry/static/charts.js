/* HomeOps — telemetry charts (our own code, drawn with uPlot from the uplot-python package, served by the app).
 *   [data-chart][id]: drawn from the JSON of #<id>-data: {kind: "line"|"bars", timezone, lang, unit, daily,
 *     x: [epoch seconds], series: [{label, values}]}; "bars" are stacked (energy per day and device).
 *   The table of the values (details[data-chart-table] in the same figure) is always in the page; once the chart
 *   is drawn it is folded away. Without JavaScript or uPlot, the table is the chart.
 *   Charts that arrive later (a range chosen in place) are drawn when they appear.
 */
(function () {
  "use strict";
  var PALETTE = ["#0a58a8", "#c2410c", "#1c6b35", "#7c3aed", "#a4231b", "#0e7490", "#92400e", "#be185d"];
  var FILLS = ["#5b8fd0", "#e8875a", "#5ea875", "#a78bdb", "#d0716b", "#4fb0c6", "#c9925a", "#dd7aa9"];

  function dateFormat(data, options) {
    try {
      return new Intl.DateTimeFormat(data.lang, Object.assign({ timeZone: data.timezone }, options));
    } catch (e) {
      return new Intl.DateTimeFormat(undefined, options);
    }
  }

  function stack(columns) {
    // Column i becomes the sum of columns 0..i (null where nothing at all was measured so far).
    var sums = [];
    return columns.map(function (values) {
      return values.map(function (v, i) {
        if (v != null) { sums[i] = (sums[i] || 0) + v; }
        return sums[i] == null ? null : sums[i];
      });
    });
  }

  function options(node, data) {
    var width = Math.max(node.clientWidth, 240);
    var height = width < 500 ? 220 : 280;
    var dayFormat = dateFormat(data, { month: "short", day: "numeric" });
    var hourFormat = dateFormat(data, { hour: "2-digit", minute: "2-digit" });
    // The axis' labels: days when the ticks are whole days apart, else times, with the day under the first
    // tick and under each tick where the day changes.
    function axisValues(_u, splits, _axis, _space, incr) {
      var lastDay = null;
      return splits.map(function (ts) {
        var when = new Date(ts * 1000);
        var day = dayFormat.format(when);
        if (data.daily || incr >= 86400) { return day; }
        var text = hourFormat.format(when) + (day !== lastDay ? "\n" + day : "");
        lastDay = day;
        return text;
      });
    }
    var longFormat = data.daily
      ? dateFormat(data, { year: "numeric", month: "short", day: "numeric" })
      : dateFormat(data, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
    var number = new Intl.NumberFormat(data.lang, { maximumFractionDigits: 2 });
    var unit = data.unit ? " " + data.unit : "";
    var bars = data.kind === "bars";
    var order = data.series.map(function (_s, i) { return i; });
    if (bars) { order.reverse(); }  // the tallest (cumulative) bar first, each next one painted over it
    var series = [{ value: function (_u, ts) { return ts == null ? "—" : longFormat.format(new Date(ts * 1000)); } }];
    order.forEach(function (i) {
      var s = data.series[i];
      series.push({
        label: s.label,
        stroke: PALETTE[i % PALETTE.length],
        width: bars ? 1 : 2,
        fill: bars ? FILLS[i % FILLS.length] : undefined,
        spanGaps: false,  // a gap in the data is a gap in the line
        points: { show: !bars && data.x.length < 60 },
        paths: bars ? uPlot.paths.bars({ size: [0.7, 48] }) : undefined,
        value: function (_u, _v, _si, idx) {
          var raw = idx == null ? null : s.values[idx];
          return raw == null ? "—" : number.format(raw) + unit;
        }
      });
    });
    var half = bars ? 43200 : 0;
    return {
      width: width,
      height: height,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), data.timezone); },
      scales: {
        x: { time: true, range: function (_u, min, max) { return [min - half, max + half]; } },
        y: bars ? { range: function (_u, _min, max) { return [0, max > 0 ? max * 1.1 : 1]; } } : {}
      },
      axes: [
        { values: axisValues, space: 60, size: 52, incrs: data.daily ? [86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 91 * 86400] : undefined },
        { values: function (_u, splits) { return splits.map(function (v) { return number.format(v); }); }, size: 56 }
      ],
      series: series,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      _order: order
    };
  }

  function draw(node) {
    if (node.hasAttribute("data-drawn") || typeof window.uPlot === "undefined") { return; }
    var source = document.getElementById(node.id + "-data");
    if (!source) { return; }
    node.setAttribute("data-drawn", "");
    var data;
    try { data = JSON.parse(source.textContent); } catch (e) { return; }
    if (!data.x.length) { return; }
    var opts = options(node, data);
    var columns = data.series.map(function (s) { return s.values; });
    if (data.kind === "bars") { columns = stack(columns); }
    var ordered = opts._order.map(function (i) { return columns[i]; });
    delete opts._order;
    var chart = new uPlot(opts, [data.x].concat(ordered), node);
    var figure = node.closest("figure");
    var table = figure ? figure.querySelector("details[data-chart-table]") : null;
    if (table) { table.open = false; }
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        var width = Math.max(node.clientWidth, 240);
        if (Math.abs(width - chart.width) > 4) { chart.setSize({ width: width, height: width < 500 ? 220 : 280 }); }
      }).observe(node);
    }
  }

  function drawAll() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart][id]:not([data-drawn])"), draw);
  }

  drawAll();
  if (window.MutationObserver) {
    new MutationObserver(drawAll).observe(document.body, { childList: true, subtree: true });
  }
})();
