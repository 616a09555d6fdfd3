/* cascade report.html: draws every chart from the data embedded in the page (uPlot), keeps
   the PNG as the fallback of any chart it cannot draw, makes the tables sortable, the
   aggregate table filterable and downloadable as CSV. Inlined by
   crates/cascade-report/src/report/html.rs; no network, no other file.
   On <body> it sets data-charts-expected, data-charts-rendered, data-errors, data-hscroll
   and data-height, which scripts/report-browser.sh reads. */
(function () {
  'use strict';
  var errors = window.__reportErrors || (window.__reportErrors = []);
  function fail(m) { errors.push(String(m)); }

  var data = { figures: [], aggregates: null, name: 'report' };
  try {
    data = JSON.parse(document.getElementById('report-data').textContent);
  } catch (e) {
    fail('cannot read the embedded data: ' + e.message);
  }

  /* Numbers: 3 significant digits, k/M/G for large ones (as on the PNG charts). */
  function fmt(v) {
    if (v === null || v === undefined || !isFinite(v)) return '\u2013';
    if (Math.abs(v) < 1e-12) v = 0; /* rounding noise of an interval bound at zero */
    var a = Math.abs(v), x = v, s = '';
    if (a >= 1e9) { x = v / 1e9; s = 'G'; } else if (a >= 1e6) { x = v / 1e6; s = 'M'; } else if (a >= 1e4) { x = v / 1e3; s = 'k'; }
    var ax = Math.abs(x), t;
    if (ax === 0) t = '0';
    else if (ax >= 100) t = x.toFixed(0);
    else if (ax >= 10) t = x.toFixed(1);
    else if (ax >= 1) t = x.toFixed(2);
    else if (ax >= 0.001) t = x.toFixed(3);
    else t = x.toExponential(1);
    if (t.indexOf('.') >= 0 && t.indexOf('e') < 0) t = t.replace(/0+$/, '').replace(/\.$/, '');
    return t + s;
  }
  /* Hover values: 4 significant digits. */
  function fmtHover(v) {
    if (v === null || v === undefined || !isFinite(v)) return '\u2013';
    if (Math.abs(v) >= 1e4 || Math.abs(v) < 1e-12) return fmt(v);
    return String(Number(v.toPrecision(4)));
  }
  function fmtTick(v) {
    if (v === null || !isFinite(v)) return '';
    if (Math.abs(v) >= 1e4) return fmt(v);
    return String(Number(v.toPrecision(6)));
  }

  var VIRIDIS = [[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
    [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]];
  function viridis(t) {
    t = isFinite(t) ? Math.min(1, Math.max(0, t)) : 0;
    var x = t * (VIRIDIS.length - 1), i = Math.min(Math.floor(x), VIRIDIS.length - 2), f = x - i;
    var a = VIRIDIS[i], b = VIRIDIS[i + 1];
    return a.map(function (p, k) { return Math.round(p + (b[k] - p) * f); });
  }
  function rgb(c) { return 'rgb(' + c.join(',') + ')'; }
  function alpha(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return 'rgba(' + ((n >> 16) & 255) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + a + ')';
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /* Log-axis labels: every decade, and 2 and 5 within it when the axis spans at most two
     decades (1-2-5); the other ticks stay unlabelled. */
  function logValues(u, splits) {
    var ok = splits.filter(function (v) { return v > 0; });
    var span = ok.length ? Math.log10(ok[ok.length - 1] / ok[0]) : 0;
    return splits.map(function (v) {
      if (!(v > 0)) return '';
      var m = Math.round(v / Math.pow(10, Math.floor(Math.log10(v) + 1e-9)));
      return m === 1 || (span <= 2.05 && (m === 2 || m === 5)) ? fmt(v) : '';
    });
  }

  var live = []; /* {u, host, height} of every drawn uPlot, for resizing */

  /* One x-y panel: lines with interval bands, markers with whiskers, step curves, bars. */
  function xyPanel(host, p, syncKey, width) {
    var cat = p.xTicks && p.xTicks.length ? p.xTicks : null;
    var x = p.x;
    var series = [{
      label: p.xLabel || 'x',
      value: function (u, v) {
        if (v === null || v === undefined) return '\u2013';
        return cat ? (cat[Math.round(v)] !== undefined ? cat[Math.round(v)] : fmtHover(v)) : fmtHover(v);
      }
    }];
    var cols = [x], bands = [], partner = {}, whisk = [];
    p.series.forEach(function (s) {
      var idx = cols.length;
      var ser = {
        label: s.label,
        stroke: s.color,
        width: s.width || 2,
        spanGaps: s.style === 'line' || s.style === 'step',
        value: function (u, v, si, di) {
          if (v === null || v === undefined) return '\u2013';
          var t = fmtHover(v);
          if (s.lo && di !== null && di !== undefined && s.lo[di] !== null) {
            t += ' [' + fmtHover(s.lo[di]) + ', ' + fmtHover(s.hi[di]) + ']';
          }
          if (s.count && di !== null && di !== undefined && s.count[di]) {
            t += ' \u00b7 ' + s.count[di] + ' liq., ' + fmt(s.notional[di]);
          }
          return t;
        }
      };
      if (s.dashed) ser.dash = [8, 5];
      if (s.style === 'points') {
        ser.paths = function () { return null; };
        ser.spanGaps = false;
        ser.points = { show: true, size: s.marker === 'triangle' ? 10 : 8, fill: s.color, stroke: s.color, width: 1 };
      } else if (s.style === 'step') {
        ser.paths = uPlot.paths.stepped({ align: 1 });
        ser.points = { show: false };
      } else if (s.style === 'bars') {
        ser.paths = uPlot.paths.bars({ size: [0.9, 6] });
        ser.fill = alpha(s.color, 0.8);
        ser.points = { show: false };
      }
      series.push(ser);
      cols.push(s.y);
      if (s.lo && s.hi && (p.whiskers || p.bands !== false)) {
        if (p.whiskers) {
          whisk.push({ idx: idx, lo: s.lo, hi: s.hi, color: s.color });
        } else {
          var band = function (which, vals) {
            series.push({ label: s.label + ' ' + which, stroke: 'rgba(0,0,0,0)', width: 1, spanGaps: true, points: { show: false } });
            cols.push(vals);
            return cols.length - 1;
          };
          var lo = band('lo', s.lo), hi = band('hi', s.hi);
          bands.push({ series: [hi, lo], fill: alpha(s.color, 0.12) });
          partner[idx] = [lo, hi];
        }
      }
    });
    var xScale = { time: false };
    if (p.xLog) { xScale.distr = 3; xScale.log = 10; }
    if (cat) xScale.range = function (u, mn, mx) { return [mn - 0.4, mx + 0.4]; };
    var yScale = {};
    if (p.yLog) {
      yScale.distr = 3; yScale.log = 10;
    } else if (p.yRange && p.yRange[0] !== null && p.yRange[1] !== null) {
      /* Facets share the static figure's y range, so panels compare at a glance. */
      yScale.range = function () { return [p.yRange[0], p.yRange[1]]; };
    } else {
      yScale.range = function (u, mn, mx) {
        var lo = mn, hi = mx;
        whisk.forEach(function (w) {
          for (var i = 0; i < x.length; i++) {
            if (w.lo[i] !== null && (lo === null || w.lo[i] < lo)) lo = w.lo[i];
            if (w.hi[i] !== null && (hi === null || w.hi[i] > hi)) hi = w.hi[i];
          }
        });
        if (lo === null || hi === null || !isFinite(lo) || !isFinite(hi)) return [0, 1];
        if (p.rate) return [0, Math.min(1, Math.max(hi * 1.08, 0.05))];
        var pad = (hi - lo) * 0.06 || Math.abs(hi) * 0.1 || 1;
        var a = lo - pad, b = hi + pad;
        if (lo >= 0 && a < 0) a = 0;
        return [a, b];
      };
    }
    var xAxis = { label: p.xLabel, labelSize: 22, size: 42, stroke: '#333', grid: { stroke: '#eee' }, ticks: { stroke: '#ccc' } };
    if (cat) {
      xAxis.splits = function (u, ai, mn, mx) {
        return cat.map(function (c, i) { return i; }).filter(function (i) { return i >= mn && i <= mx; });
      };
      xAxis.values = function (u, splits) { return splits.map(function (v) { return cat[v] !== undefined ? cat[v] : ''; }); };
    } else if (p.xLog) {
      xAxis.values = logValues;
    } else {
      xAxis.values = function (u, splits) { return splits.map(fmtTick); };
    }
    var yAxis = { label: p.yLabel, labelSize: 22, size: 66, stroke: '#333', grid: { stroke: '#eee' }, ticks: { stroke: '#ccc' } };
    yAxis.values = p.yLog ? logValues : function (u, splits) { return splits.map(fmtTick); };
    var opts = {
      width: width,
      height: p.height || 320,
      series: series,
      bands: bands,
      scales: { x: xScale, y: yScale },
      axes: [xAxis, yAxis],
      legend: { live: true },
      cursor: { drag: { x: true, y: false }, points: { size: 7 } },
      hooks: {
        setSeries: [function (u, si, o) {
          if (partner[si] && o && o.show !== undefined) {
            partner[si].forEach(function (j) {
              if (u.series[j].show !== o.show) u.setSeries(j, { show: o.show });
            });
          }
        }],
        draw: [function (u) {
          if (!whisk.length) return;
          var ctx = u.ctx, d = window.devicePixelRatio || 1;
          ctx.save();
          ctx.beginPath();
          ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
          ctx.clip();
          whisk.forEach(function (w) {
            if (!u.series[w.idx].show) return;
            ctx.strokeStyle = w.color;
            ctx.lineWidth = 1.5 * d;
            ctx.beginPath();
            for (var i = 0; i < x.length; i++) {
              if (w.lo[i] === null || w.hi[i] === null) continue;
              var px = u.valToPos(x[i], 'x', true), a = u.valToPos(w.lo[i], 'y', true), b = u.valToPos(w.hi[i], 'y', true);
              ctx.moveTo(px, a); ctx.lineTo(px, b);
              ctx.moveTo(px - 4 * d, a); ctx.lineTo(px + 4 * d, a);
              ctx.moveTo(px - 4 * d, b); ctx.lineTo(px + 4 * d, b);
            }
            ctx.stroke();
          });
          ctx.restore();
        }]
      }
    };
    if (syncKey) opts.cursor.sync = { key: syncKey, setSeries: false };
    if (p.legendHeading) host.appendChild(el('div', 'heading', 'Series: ' + p.legendHeading));
    var u = new uPlot(opts, cols, host);
    /* The band edges are drawn as the band, not as legend entries. */
    var rows = u.root.querySelectorAll('.u-legend .u-series');
    Object.keys(partner).forEach(function (k) {
      partner[k].forEach(function (j) { if (rows[j]) rows[j].style.display = 'none'; });
    });
    if (!u.ctx || !u.ctx.canvas || !u.ctx.canvas.width) throw new Error('the chart has no canvas');
    live.push({ u: u, host: host, height: opts.height });
  }

  /* A heatmap as a table of coloured cells; rates always on [0, 1]. */
  function heatPanel(host, p) {
    var vals = p.cells.map(function (c) { return c[2]; }).filter(function (v) { return v !== null; });
    var vmin = p.rate ? 0 : Math.min.apply(null, vals), vmax = p.rate ? 1 : Math.max.apply(null, vals);
    if (!vals.length) { vmin = 0; vmax = 1; }
    var span = vmax - vmin;
    var at = {};
    p.cells.forEach(function (c) { at[c[0] + ',' + c[1]] = c; });
    var readout = el('div', 'readout muted', 'Hover a cell for its value and 95% interval.');
    host.appendChild(el('div', 'heading', 'Rows: ' + p.yLabel + ' \u00b7 columns: ' + p.xLabel));
    var wrap = el('div', 'scroll');
    var t = el('table', 'heat');
    var head = el('tr');
    head.appendChild(el('th', '', ''));
    p.xTicks.forEach(function (x) { head.appendChild(el('th', '', x)); });
    for (var r = p.yTicks.length - 1; r >= 0; r--) {
      var tr = el('tr');
      tr.appendChild(el('th', '', p.yTicks[r]));
      for (var c = 0; c < p.xTicks.length; c++) {
        var cell = at[c + ',' + r], td = el('td');
        if (cell && cell[2] !== null) {
          var col = viridis(span > 0 ? (cell[2] - vmin) / span : 0.5);
          var dark = 0.2126 * col[0] + 0.7152 * col[1] + 0.0722 * col[2] < 128;
          td.style.background = rgb(col);
          td.style.color = dark ? '#fff' : '#000';
          td.appendChild(document.createTextNode(fmt(cell[2])));
          td.appendChild(el('br'));
          td.appendChild(el('small', '', '[' + fmt(cell[3]) + ', ' + fmt(cell[4]) + ']'));
          var text = p.xLabel + ' = ' + p.xTicks[c] + ', ' + p.yLabel + ' = ' + p.yTicks[r] + ': ' +
            fmtHover(cell[2]) + ' [' + fmtHover(cell[3]) + ', ' + fmtHover(cell[4]) + ']';
          td.title = text;
          td.addEventListener('mouseenter', (function (s) { return function () { readout.textContent = s; }; })(text));
        } else {
          td.textContent = '\u2013';
        }
        tr.appendChild(td);
      }
      t.appendChild(tr);
    }
    t.insertBefore(head, t.firstChild);
    wrap.appendChild(t);
    host.appendChild(wrap);
    var scale = el('div', 'heatscale');
    var bar = el('div', 'bar');
    bar.style.background = 'linear-gradient(to right,' + VIRIDIS.map(rgb).join(',') + ')';
    scale.appendChild(el('span', '', fmt(vmin)));
    scale.appendChild(bar);
    scale.appendChild(el('span', '', fmt(vmax)));
    scale.appendChild(el('span', '', p.scaleLabel));
    host.appendChild(scale);
    host.appendChild(readout);
  }

  /* A small table of values with intervals. */
  function tablePanel(host, p) {
    var wrap = el('div', 'scroll'), t = el('table');
    var tr = el('tr');
    p.columns.forEach(function (c, i) { tr.appendChild(el('th', i ? '' : 'l', c)); });
    t.appendChild(tr);
    p.rows.forEach(function (row) {
      var r = el('tr');
      row.forEach(function (v, i) {
        var text = Array.isArray(v) ? fmt(v[0]) + ' [' + fmt(v[1]) + ', ' + fmt(v[2]) + ']' : (v === null ? '\u2013' : String(v));
        r.appendChild(el('td', i ? '' : 'l', text));
      });
      t.appendChild(r);
    });
    wrap.appendChild(t);
    host.appendChild(wrap);
  }

  function panelWidth(total, n, grid) {
    if (!grid || n <= 1) return total;
    var cols = Math.max(1, Math.min(n, Math.floor((total + 18) / 340)));
    return Math.floor((total - 18 * (cols - 1)) / cols);
  }

  function drawFigure(fig, spec, i) {
    var host = fig.querySelector('.interactive');
    if (spec.subtitle) host.appendChild(el('p', 'subtitle', spec.subtitle));
    var wrap = el('div', 'panels');
    host.appendChild(wrap);
    var total = host.clientWidth || 1000;
    var xy = spec.panels.filter(function (p) { return p.type === 'xy'; }).length;
    var w = panelWidth(total, xy, spec.layout === 'grid');
    spec.panels.forEach(function (p) {
      var box = el('div', 'panel');
      wrap.appendChild(box);
      if (p.title) box.appendChild(el('h4', '', p.title));
      if (p.type === 'xy') {
        box.style.width = w + 'px';
        box.dataset.grid = spec.layout === 'grid' ? xy : 1;
        xyPanel(box, p, spec.sync ? 'fig' + i : null, w);
      } else if (p.type === 'heat') {
        box.style.width = '100%';
        heatPanel(box, p);
      } else if (p.type === 'table') {
        box.style.width = '100%';
        tablePanel(box, p);
      } else {
        throw new Error('unknown panel type ' + p.type);
      }
    });
  }

  var rendered = 0;
  var figs = document.querySelectorAll('figure.fig');
  Array.prototype.forEach.call(figs, function (fig) {
    var i = Number(fig.dataset.fig);
    var spec = data.figures[i];
    try {
      if (!spec) throw new Error('no data');
      drawFigure(fig, spec, i);
      fig.classList.add('live');
      var b = fig.querySelector('button.toggle');
      b.hidden = false;
      b.addEventListener('click', function () {
        var s = fig.classList.toggle('show-static');
        b.textContent = s ? 'Interactive chart' : 'Static image';
      });
      rendered++;
    } catch (e) {
      fail('chart ' + i + ' (' + (spec ? spec.title : '?') + '): ' + (e && e.message ? e.message : e));
      fig.querySelector('.interactive').textContent = '';
    }
  });

  var resizeTimer = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      live.forEach(function (c) {
        var panels = c.host.parentNode, n = Number(c.host.dataset.grid) || 1;
        var w = panelWidth(panels.parentNode.clientWidth || 1000, n, n > 1);
        c.host.style.width = w + 'px';
        c.u.setSize({ width: w, height: c.height });
      });
    }, 150);
  });

  /* Tables: click a column heading to sort (numbers by value, then text). */
  function sortable(table) {
    var body = table.tBodies[0];
    if (!table.tHead || !body) return;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.title = (th.title ? th.title + ' \u00b7 ' : '') + 'click to sort';
      th.addEventListener('click', function () {
        var asc = !th.classList.contains('asc');
        Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.classList.remove('asc', 'desc'); });
        th.classList.add(asc ? 'asc' : 'desc');
        var rows = Array.prototype.slice.call(body.rows);
        var key = function (r) {
          var c = r.cells[col];
          if (!c) return [2, ''];
          if (c.dataset.v !== undefined) return [0, Number(c.dataset.v)];
          var t = c.textContent.trim();
          return t ? [1, t.toLowerCase()] : [2, ''];
        };
        rows.sort(function (a, b) {
          var ka = key(a), kb = key(b);
          if (ka[0] !== kb[0]) return ka[0] - kb[0];
          var d = ka[1] < kb[1] ? -1 : ka[1] > kb[1] ? 1 : 0;
          return asc ? d : -d;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.data'), sortable);

  /* The aggregate table: filter rows, download what is shown as CSV (full precision). */
  Array.prototype.forEach.call(document.querySelectorAll('.tools[data-for]'), function (tools) {
    var table = document.getElementById(tools.dataset.for);
    var input = tools.querySelector('input.filter'), count = tools.querySelector('.count');
    var rows = function () { return Array.prototype.slice.call(table.tBodies[0].rows); };
    var update = function () {
      var terms = input.value.toLowerCase().split(/\s+/).filter(Boolean), shown = 0, all = rows();
      all.forEach(function (r) {
        var t = r.textContent.toLowerCase();
        var ok = terms.every(function (w) { return t.indexOf(w) >= 0; });
        r.hidden = !ok;
        if (ok) shown++;
      });
      count.textContent = shown + ' of ' + all.length + ' points shown';
    };
    input.addEventListener('input', update);
    update();
    tools.querySelector('button.csv').addEventListener('click', function () {
      var agg = data.aggregates;
      if (!agg) return;
      var byPoint = {};
      agg.rows.forEach(function (r) { byPoint[r[0]] = r; });
      var q = function (v) {
        if (v === null || v === undefined) return '';
        var s = String(v);
        return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
      };
      var lines = [agg.columns.map(q).join(',')];
      rows().forEach(function (r) {
        if (r.hidden) return;
        var row = byPoint[Number(r.cells[0].dataset.v)];
        if (row) lines.push(row.map(q).join(','));
      });
      var a = document.createElement('a');
      a.href = 'data:text/csv;charset=utf-8,' + encodeURIComponent(lines.join('\n') + '\n');
      a.download = (data.name || 'report') + '-aggregates.csv';
      document.body.appendChild(a);
      a.click();
      a.remove();
    });
  });

  var d = document.documentElement, body = document.body;
  body.dataset.chartsExpected = figs.length;
  body.dataset.chartsRendered = rendered;
  body.dataset.hscroll = d.scrollWidth > d.clientWidth ? 1 : 0;
  body.dataset.height = d.scrollHeight;
  body.dataset.errors = errors.length;
  if (errors.length) {
    var pre = document.getElementById('report-errors');
    pre.hidden = false;
    pre.textContent = 'Errors while drawing the page:\n' + errors.join('\n');
  }
})();
