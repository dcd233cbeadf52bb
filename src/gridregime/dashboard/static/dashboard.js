/* Renders every chart of a gridregime dashboard page from the figure JSON embedded in the page.
 * A chart container names its figure with data-figure="<id of a script type=application/json>".
 * On the main symbol chart, the minute candles replace the hourly ones when the visible span is
 * within the minute window (the last days); zooming out brings the hourly candles back. */
(function () {
  "use strict";

  function toMs(value) {
    if (typeof value === "number") { return value; }
    // Plotly gives date-axis ranges as "YYYY-MM-DD HH:MM:SS.sss" (UTC for epoch-ms data)
    return Date.parse(String(value).replace(" ", "T") + (String(value).length > 10 ? "Z" : "T00:00:00Z"));
  }

  function attachMinuteSwitch(el, meta) {
    var minute = meta.minute_index, hourly = meta.hourly_index, win = meta.minute_range;
    var showing = "hourly";
    function apply(range) {
      var want = "hourly";
      if (range) {
        var a = toMs(range[0]), b = toMs(range[1]);
        if (b > win[0] && b - a <= (win[1] - win[0]) * 1.05) { want = "minute"; }
      }
      if (want !== showing) {
        showing = want;
        Plotly.restyle(el, { visible: [want === "hourly", want === "minute"] }, [hourly, minute]);
      }
    }
    el.on("plotly_relayout", function (ev) {
      if (ev["xaxis.autorange"] || ev["autosize"]) { apply(null); return; }
      var r = el.layout.xaxis && el.layout.xaxis.range;
      if (ev["xaxis.range[0]"] !== undefined || ev["xaxis.range"] !== undefined) { apply(r); }
    });
  }

  function render(el) {
    var spec = JSON.parse(document.getElementById(el.getAttribute("data-figure")).textContent);
    var config = { responsive: true, displaylogo: false, scrollZoom: false,
                   modeBarButtonsToRemove: ["select2d", "lasso2d"] };
    return Plotly.newPlot(el, spec.data, spec.layout, config).then(function () {
      var meta = spec.meta || {};
      el.gridregimeMeta = meta;
      if (meta.minute_index !== undefined) { attachMinuteSwitch(el, meta); }
      el.setAttribute("data-rendered", "1");
    });
  }

  function zoom(button) {
    var el = document.getElementById(button.getAttribute("data-target"));
    var meta = el && el.gridregimeMeta;
    if (!meta) { return; }
    if (button.getAttribute("data-zoom") === "minute" && meta.minute_range) {
      Plotly.relayout(el, { "xaxis.range": [meta.minute_range[0], meta.minute_range[1]] });
    } else {
      Plotly.relayout(el, { "xaxis.autorange": true });
    }
  }

  var charts = Array.prototype.slice.call(document.querySelectorAll("[data-figure]"));
  Promise.all(charts.map(render)).then(function () {
    document.body.setAttribute("data-charts-rendered", String(charts.length));
  });
  Array.prototype.forEach.call(document.querySelectorAll("button[data-zoom]"), function (b) {
    b.addEventListener("click", function () { zoom(b); });
  });
})();
