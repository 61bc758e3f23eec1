(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("kura-data").textContent);
  var NODES = DATA.nodes;
  var UNCLUSTERED = "__unclustered__";
  var PALETTE = ["#636efa", "#EF553B", "#00cc96", "#ab63fa", "#FFA15A", "#19d3f3", "#FF6692",
                 "#B6E880", "#FF97FF", "#FECB52", "#1f77b4", "#8c564b", "#bcbd22", "#17becf"];
  var OTHER_COLOUR = "#9aa0a6", UNCLUSTERED_COLOUR = "#cfd3d7";
  var selectedId = null;

  // ---- helpers: text only, never markup -------------------------------------------------
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "class") { e.className = attrs[k]; } else { e.setAttribute(k, String(attrs[k])); }
      });
    }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  // for Plotly labels, which read a subset of HTML (tags only, drawn as SVG text): escaping
  // & < > leaves no tag to read; Plotly turns these three entities back into plain characters
  // (quotes need no escaping there, and Plotly would show &quot; as it is)
  function esc(s) {
    return String(s === null || s === undefined ? "" : s)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  function fmtInt(v) { return v === null || v === undefined ? "–" : Math.round(v).toLocaleString("en-US"); }
  function fmtPct(v) { return v === null || v === undefined ? "–" : (100 * v).toFixed(0) + "%"; }
  function fmtNum(v, d) { return v === null || v === undefined ? "–" : Number(v).toFixed(d === undefined ? 1 : d); }
  function fmtMoney(v) { return v === null || v === undefined ? "–" : "$" + Math.round(v).toLocaleString("en-US"); }
  function fmtDate(v) { return v ? String(v).slice(0, 10) : "–"; }

  var colourOf = {};
  DATA.roots.forEach(function (id, i) {
    colourOf[id] = NODES[id] && NODES[id].kind === "other" ? OTHER_COLOUR : PALETTE[i % PALETTE.length];
  });
  function colour(id) { return id === UNCLUSTERED ? UNCLUSTERED_COLOUR : (colourOf[id] || OTHER_COLOUR); }
  function ancestors(id) {
    var out = [], cur = NODES[id], guard = 0;
    while (cur && cur.parent && NODES[cur.parent] && guard++ < 100) { cur = NODES[cur.parent]; out.unshift(cur.id); }
    return out;
  }
  function isWithin(id, rootId) {
    if (id === rootId) { return true; }
    var a = ancestors(id);
    return a.indexOf(rootId) >= 0;
  }

  // ---- header ----------------------------------------------------------------------------
  document.getElementById("title").textContent = DATA.title;
  document.title = DATA.title;
  var t = DATA.totals;
  var facts = [fmtInt(t.conversations) + " conversations", fmtInt(t.summarised) + " summarised",
               fmtInt(t.base_clusters) + " base clusters"];
  if (t.unclustered) { facts.push(fmtInt(t.unclustered) + " unclustered"); }
  if (t.privacy_withheld) {
    facts.push(fmtInt(t.privacy_withheld) + " with text withheld by the privacy audit");
  }
  if (t.hidden_clusters) {
    facts.push(fmtInt(t.hidden_clusters) + (t.hidden_clusters === 1 ? " cluster" : " clusters") +
               " below the privacy thresholds, shown as Other");
  }
  var ALERTS = DATA.alerts || [];
  var currentAlerts = ALERTS.filter(function (a) { return a.current; });
  if (currentAlerts.length) {
    facts.push(fmtInt(currentAlerts.length) + (currentAlerts.length === 1 ? " alert" : " alerts") + " this week");
  }
  facts.push("from " + DATA.source + ", " + DATA.generated_at);
  document.getElementById("totals").textContent = facts.join(" · ");
  document.getElementById("warnings").textContent = (DATA.warnings || []).join("; ");

  // ---- tree ------------------------------------------------------------------------------
  var treeRows = {};
  function countText(n) {
    var s = fmtInt(n.size) + " conv · " + fmtInt(n.users) + " users";
    if (n.kind === "cluster" && n.share !== null && n.share !== undefined) { s += " · " + fmtPct(n.share); }
    return s;
  }
  function rowContent(n, container) {
    var sw = el("span", { "class": "swatch", "data-id": n.id });
    sw.style.background = colour(n.parent ? n.top : n.id);  // base clusters: their shade, below
    container.appendChild(sw);
    var name = el("span", { "class": "tree-name", "data-id": n.id, "tabindex": "0", "role": "button" }, n.name);
    if (n.kind === "other") { name.title = "Clusters below the privacy thresholds: counts only"; }
    name.addEventListener("click", function (ev) { ev.preventDefault(); ev.stopPropagation(); select(n.id); });
    name.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { select(n.id); } });
    container.appendChild(name);
    container.appendChild(el("span", { "class": "tree-count" }, countText(n)));
  }
  function renderNode(id, depth) {
    var n = NODES[id];
    if (!n) { return el("div"); }
    var kids = n.children || [];
    if (kids.length) {
      var d = el("details", { "class": "tree-row node " + n.kind, "data-id": id });
      if (depth === 0) { d.open = true; }
      var s = el("summary");
      rowContent(n, s);
      d.appendChild(s);
      var box = el("div", { "class": "tree-children" });
      kids.forEach(function (k) { box.appendChild(renderNode(k, depth + 1)); });
      d.appendChild(box);
      treeRows[id] = d;
      return d;
    }
    var r = el("div", { "class": "tree-row leaf " + n.kind, "data-id": id });
    rowContent(n, r);
    treeRows[id] = r;
    return r;
  }
  var tree = document.getElementById("tree");
  DATA.roots.forEach(function (id) { tree.appendChild(renderNode(id, 0)); });
  if (t.unclustered) {
    document.getElementById("tree-foot").textContent = fmtInt(t.unclustered) + (t.unclustered === 1 ? " conversation is" : " conversations are") + " in no cluster.";
  }

  // ---- map: points drawn into a canvas's pixels, labels as text elements over it ------------
  var MAP = DATA.map;
  var mapDiv = document.getElementById("map");
  var canvas = document.getElementById("map-canvas");
  var labelLayer = document.getElementById("map-labels");
  var tip = document.getElementById("map-tip");
  var legend = document.getElementById("map-legend");
  var colourBy = document.getElementById("colour-by");
  function decode(b64, Type) {
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    return new Type(bytes.buffer);
  }
  var N = MAP.n, B = MAP.bounds;
  var X = new Float32Array(N), Y = new Float32Array(N);
  (function () {
    var xy = decode(MAP.xy, Uint16Array), sx = (B[1] - B[0]) / 65535, sy = (B[3] - B[2]) / 65535;
    for (var i = 0; i < N; i++) { X[i] = B[0] + xy[2 * i] * sx; Y[i] = B[2] + xy[2 * i + 1] * sy; }
  })();
  var PNODE = decode(MAP.node, Uint16Array), PTEXT = decode(MAP.text, Int32Array);
  var FACETS = {};
  MAP.facets.forEach(function (f) { FACETS[f.key] = f; f.data = decode(f.codes, f.dtype === "u8" ? Uint8Array : Uint16Array); });

  // colour families: a hue per top-level cluster, a shade of it per base cluster
  function hexRgb(h) { var v = parseInt(h.slice(1), 16); return [(v >> 16) & 255, (v >> 8) & 255, v & 255]; }
  function rgbHex(c) { return "#" + c.map(function (v) { return ("0" + Math.round(v).toString(16)).slice(-2); }).join(""); }
  function hsl(h, s, l) {
    var a = s * Math.min(l, 1 - l);
    function f(n) { var k = (n + h / 30) % 12; return 255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))); }
    return [f(0), f(8), f(4)];
  }
  function toHsl(rgb) {
    var r = rgb[0] / 255, g = rgb[1] / 255, b = rgb[2] / 255, mx = Math.max(r, g, b), mn = Math.min(r, g, b);
    var h = 0, l = (mx + mn) / 2, d = mx - mn, s = d === 0 ? 0 : d / (1 - Math.abs(2 * l - 1));
    if (d) { h = mx === r ? ((g - b) / d) % 6 : mx === g ? (b - r) / d + 2 : (r - g) / d + 4; }
    return [(h * 60 + 360) % 360, s, l];
  }
  function leaves(id, out) {
    var n = NODES[id];
    if (!n || n.kind !== "cluster") { return out; }
    if (!n.children || !n.children.length) { out.push(id); }
    (n.children || []).forEach(function (k) { leaves(k, out); });
    return out;
  }
  var shadeOf = {};
  DATA.roots.forEach(function (root) {
    if (!NODES[root] || NODES[root].kind !== "cluster") { return; }
    var base = toHsl(hexRgb(colourOf[root])), ids = leaves(root, []), k = ids.length;
    ids.forEach(function (id, i) {
      // siblings (neighbours on the map) get shades far apart: steps of the golden ratio
      var t = k > 2 ? (i * 0.618034) % 1 : (k > 1 ? i : 0.5);
      shadeOf[id] = rgbHex(hsl((base[0] + (t - 0.5) * 36 + 360) % 360, Math.min(0.95, base[1] + 0.05), 0.28 + 0.44 * t));
    });
  });
  function nodeColour(id) {
    if (id === UNCLUSTERED) { return UNCLUSTERED_COLOUR; }
    var n = NODES[id];
    if (!n || n.kind !== "cluster") { return OTHER_COLOUR; }
    return shadeOf[id] || colour(n.top);
  }
  var ORDINAL = ["#2c7bb6", "#74add1", "#fee090", "#f46d43", "#a50026"];
  var CATEGORY = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7",
                  "#9c755f", "#e15759", "#1f77b4", "#8c564b", "#17becf", "#bcbd22"];
  var STATUS = { discovered: "#4e79a7", assigned: "#59a14f", labelled: "#4e79a7", classified: "#59a14f",
                 novel: "#e8161b", noise: "#b0a4c7", other: "#f28e2b", error: "#7f7f7f" };
  var GREY_NOT_SHOWN = "#e3e5e8", GREY_UNKNOWN = "#b9bec4";
  function facetColours(f) {
    var plain = f.values.filter(function (v, i) { return i > 0 && f.values[i].indexOf("unknown") !== 0 && f.values[i].indexOf("other (rare") !== 0; });
    return f.values.map(function (v, i) {
      if (i === 0) { return GREY_NOT_SHOWN; }
      if (v === "unknown" || v.indexOf("other (rare") === 0) { return GREY_UNKNOWN; }
      if (f.emphasis.indexOf(i) >= 0) { return f.key === "week" ? "#ff6a00" : "#e8161b"; }
      var j = plain.indexOf(v), m = plain.length;
      if (f.key === "status" && STATUS[v]) { return STATUS[v]; }
      if (f.scale === "ordinal") {
        if (f.key === "week") { var l = 0.88 - 0.55 * (m > 1 ? j / (m - 1) : 1); return rgbHex(hsl(212, 0.55, l)); }
        var p = m > 1 ? j / (m - 1) * (ORDINAL.length - 1) : ORDINAL.length - 1, a = hexRgb(ORDINAL[Math.floor(p)]),
            b = hexRgb(ORDINAL[Math.min(ORDINAL.length - 1, Math.floor(p) + 1)]), u = p - Math.floor(p);
        return rgbHex([0, 1, 2].map(function (c) { return a[c] + (b[c] - a[c]) * u; }));
      }
      return CATEGORY[j % CATEGORY.length];
    });
  }
  function packRgb(hex, fade) {  // ImageData pixel as a little-endian Uint32: A B G R
    var c = hexRgb(hex);
    if (fade) { c = c.map(function (v) { return v + (255 - v) * 0.82; }); }
    return (255 << 24 | Math.round(c[2]) << 16 | Math.round(c[1]) << 8 | Math.round(c[0])) >>> 0;
  }

  var mode = "cluster", selectedMap = null;
  var PCOL = new Uint32Array(N), PLAYER = new Uint8Array(N);  // layer 0 faded, 1 normal, 2 emphasised
  function inSelection(nodeIdx) {
    var id = MAP.nodes[nodeIdx];
    return !selectedMap || (id !== UNCLUSTERED && isWithin(id, selectedMap));
  }
  function recolour() {
    var i, k, within = MAP.nodes.map(function (id, j) { return inSelection(j); });
    if (mode === "cluster") {
      var nc = MAP.nodes.map(nodeColour), full = nc.map(function (h) { return packRgb(h, false); }),
          faded = nc.map(function (h) { return packRgb(h, true); });
      for (i = 0; i < N; i++) { k = PNODE[i]; PCOL[i] = within[k] ? full[k] : faded[k]; PLAYER[i] = within[k] ? 1 : 0; }
    } else {
      var f = FACETS[mode], fc = facetColours(f), fFull = fc.map(function (h) { return packRgb(h, false); }),
          fFaded = fc.map(function (h) { return packRgb(h, true); }), emph = f.values.map(function (v, j) { return f.emphasis.indexOf(j) >= 0; });
      for (i = 0; i < N; i++) {
        k = f.data[i];
        var w = within[PNODE[i]];
        PCOL[i] = w ? fFull[k] : fFaded[k];
        PLAYER[i] = !w ? 0 : (emph[k] ? 2 : 1);
      }
    }
  }

  // the view: centre (cx, cy) in map units and k pixels per unit, y up
  var W = 0, H = 0, DPR = 1, ctx = canvas.getContext("2d"), img = null, pix = null;
  var view = { cx: (B[0] + B[1]) / 2, cy: (B[2] + B[3]) / 2, k: 1 }, fitK = 1;
  function fitView() {
    var spanX = Math.max(B[1] - B[0], 1e-9), spanY = Math.max(B[3] - B[2], 1e-9);
    fitK = 0.9 * Math.min(W / spanX, H / spanY);
    view = { cx: (B[0] + B[1]) / 2, cy: (B[2] + B[3]) / 2, k: fitK };
  }
  function resize() {
    W = mapDiv.clientWidth; H = mapDiv.clientHeight; DPR = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.round(W * DPR)); canvas.height = Math.max(1, Math.round(H * DPR));
    canvas.style.width = W + "px"; canvas.style.height = H + "px";
    img = ctx.createImageData(canvas.width, canvas.height);
    pix = new Uint32Array(img.data.buffer);
  }
  function screenX(x) { return W / 2 + (x - view.cx) * view.k; }
  function screenY(y) { return H / 2 - (y - view.cy) * view.k; }
  function stamp(radius) {  // the pixel offsets of a disc
    var out = [], r = Math.max(0.5, radius), R = Math.ceil(r);
    for (var dy = -R; dy <= R; dy++) { for (var dx = -R; dx <= R; dx++) { if (dx * dx + dy * dy <= r * r + 0.5) { out.push(dx, dy); } } }
    return out;
  }
  var frameTimes = [], POINT_R = N < 2000 ? 2.6 : (N < 20000 ? 2.0 : 1.6);  // px at the whole map
  function draw() {
    var t0 = performance.now(), cw = canvas.width, ch = canvas.height;
    pix.fill(0xffffffff);
    var zoom = Math.log(view.k / fitK) / Math.LN2, r = DPR * Math.max(1.1, Math.min(4.5, POINT_R + 0.45 * zoom));
    var ks = view.k * DPR, ox = cw / 2 - view.cx * ks, oy = ch / 2 + view.cy * ks;
    for (var layer = 0; layer < 3; layer++) {
      var st = stamp(layer === 2 ? r * 1.7 : r), sn = st.length;
      for (var i = 0; i < N; i++) {
        if (PLAYER[i] !== layer) { continue; }
        var px = Math.round(ox + X[i] * ks), py = Math.round(oy - Y[i] * ks);
        if (px < -6 || py < -6 || px > cw + 6 || py > ch + 6) { continue; }
        var c = PCOL[i];
        for (var s = 0; s < sn; s += 2) {
          var qx = px + st[s], qy = py + st[s + 1];
          if (qx >= 0 && qy >= 0 && qx < cw && qy < ch) { pix[qy * cw + qx] = c; }
        }
      }
    }
    ctx.putImageData(img, 0, 0);
    placeLabels();
    frameTimes.push(performance.now() - t0);
    if (frameTimes.length > 600) { frameTimes.shift(); }
  }
  var pending = false;
  function redraw() {
    if (pending) { return; }
    pending = true;
    requestAnimationFrame(function () { pending = false; draw(); });
  }

  // labels: the largest clusters' names first, each where it fits without overlapping another
  var LABELS = MAP.labels.map(function (l) {
    var n = NODES[l[0]], e = el("div", { "class": "map-label level-" + (n.parent ? "inner" : "top"), "data-id": l[0], "role": "button", "tabindex": "0" }, n.name);
    e.style.color = n.parent ? "#24292f" : colour(n.top);
    e.hidden = true;
    labelLayer.appendChild(e);
    var parent = (n.children || []).some(function (k) { return NODES[k] && NODES[k].kind === "cluster"; });
    return { id: l[0], x: l[1], y: l[2], r: l[3], level: l[4], count: l[5], top: !n.parent, parent: parent, el: e, w: 0, h: 0 };
  });
  var topLevel = MAP.labels.reduce(function (m, l) { return Math.max(m, l[4]); }, 0);
  function measureLabels() {
    // shown all at once, measured, hidden again: one layout, however many names
    LABELS.forEach(function (L) { L.el.hidden = false; });
    LABELS.forEach(function (L) { L.w = L.el.offsetWidth; L.h = L.el.offsetHeight; });
    LABELS.forEach(function (L) { L.el.hidden = true; });
  }
  // which names are tried first: top level (0), clusters big enough on screen (1), clusters
  // zoomed into, after their children (2), then smaller clusters while the screen has room (3)
  function labelTier(L, rpx) {
    var depth = L.top ? 0 : topLevel - L.level;
    if (rpx > 150 && L.parent) { return 2; }
    if (L.top) { return 0; }
    return rpx >= 12 + 6 * depth ? 1 : 3;
  }
  function placeLabels() {
    var placed = [], cands = [], budget = Math.max(8, Math.floor(W * H / 30000));
    LABELS.forEach(function (L) {
      var rpx = L.r * view.k, sx = screenX(L.x), sy = screenY(L.y);
      if (sx > -L.w && sx < W + L.w && sy > -L.h && sy < H + L.h) {
        cands.push({ L: L, sx: sx, sy: sy, tier: labelTier(L, rpx), depth: L.top ? 0 : topLevel - L.level });
      } else { L.el.hidden = true; }
    });
    cands.sort(function (a, b) { return a.tier - b.tier || a.depth - b.depth || b.L.count - a.L.count; });
    cands.forEach(function (c) {
      // a small cluster's name just above or below it, so that its points stay in sight
      var L = c.L, box = null, tries = c.tier === 3 ? [-0.8, 0.8, -1.8, 1.8] : [0, -1, 1, -2, 2];
      for (var t = 0; t < tries.length && !box && (c.tier < 3 || placed.length < budget); t++) {
        var b = { x: c.sx - L.w / 2, y: c.sy - L.h / 2 + tries[t] * (L.h + 2), w: L.w, h: L.h };
        if (b.x < 0 || b.y < 0 || b.x + b.w > W || b.y + b.h > H) { continue; }
        var free = placed.every(function (p) { return b.x + b.w + 2 <= p.x || p.x + p.w + 2 <= b.x || b.y + b.h + 1 <= p.y || p.y + p.h + 1 <= b.y; });
        if (free) { box = b; }
      }
      if (!box) { L.el.hidden = true; return; }
      placed.push(box);
      L.el.hidden = false;
      L.el.style.transform = "translate(" + Math.round(box.x) + "px," + Math.round(box.y) + "px)";
    });
  }

  // hover: the nearest point within a few pixels, through a grid over the map
  var G = Math.max(1, Math.ceil(Math.sqrt(N / 8))), gx = G / Math.max(B[1] - B[0], 1e-9), gy = G / Math.max(B[3] - B[2], 1e-9);
  var cellStart = new Int32Array(G * G + 1), cellItems = new Int32Array(N);
  (function () {
    var cellOf = new Int32Array(N), i;
    for (i = 0; i < N; i++) {
      var cx = Math.min(G - 1, Math.floor((X[i] - B[0]) * gx)), cy = Math.min(G - 1, Math.floor((Y[i] - B[2]) * gy));
      cellOf[i] = cy * G + cx; cellStart[cellOf[i] + 1]++;
    }
    for (i = 0; i < G * G; i++) { cellStart[i + 1] += cellStart[i]; }
    var fill = cellStart.slice(0, G * G);
    for (i = 0; i < N; i++) { cellItems[fill[cellOf[i]]++] = i; }
  })();
  function nearest(sx, sy, maxPx) {
    var x = view.cx + (sx - W / 2) / view.k, y = view.cy - (sy - H / 2) / view.k, rad = maxPx / view.k;
    var c0 = Math.max(0, Math.floor((x - rad - B[0]) * gx)), c1 = Math.min(G - 1, Math.floor((x + rad - B[0]) * gx));
    var r0 = Math.max(0, Math.floor((y - rad - B[2]) * gy)), r1 = Math.min(G - 1, Math.floor((y + rad - B[2]) * gy));
    var best = -1, bestD = rad * rad, bestLayer = -1;
    for (var r = r0; r <= r1; r++) {
      for (var c = c0; c <= c1; c++) {
        for (var j = cellStart[r * G + c]; j < cellStart[r * G + c + 1]; j++) {
          var i = cellItems[j], dx = X[i] - x, dy = Y[i] - y, d = dx * dx + dy * dy;
          if (d <= bestD * 1.0001 && (d < bestD || PLAYER[i] > bestLayer)) { best = i; bestD = Math.max(d, 1e-30); bestLayer = PLAYER[i]; }
        }
      }
    }
    return best;
  }
  function pointPath(i) {
    var id = MAP.nodes[PNODE[i]];
    if (id === UNCLUSTERED) { return ["Unclustered"]; }
    return ancestors(id).concat([id]).map(function (a) { return NODES[a] ? NODES[a].name : "Other"; });
  }
  function showTip(i, sx, sy) {
    while (tip.firstChild) { tip.removeChild(tip.firstChild); }
    var id = MAP.nodes[PNODE[i]], n = NODES[id];
    tip.appendChild(el("div", { "class": "tip-path" }, pointPath(i).join(" › ")));
    if (mode !== "cluster") { tip.appendChild(el("div", { "class": "tip-facet" }, FACETS[mode].label + ": " + FACETS[mode].values[FACETS[mode].data[i]])); }
    if (n && n.kind === "other") {
      tip.appendChild(el("div", { "class": "tip-note" }, "below the privacy thresholds: no summary shown"));
    } else if (PTEXT[i] >= 0) {
      tip.appendChild(el("div", { "class": "tip-summary" }, DATA.search[PTEXT[i]][0]));
    }
    tip.hidden = false;
    tip.setAttribute("data-point", String(i));
    var tw = tip.offsetWidth, th = tip.offsetHeight;
    tip.style.left = Math.max(0, Math.min(W - tw, sx + 14)) + "px";
    tip.style.top = Math.max(0, sy + 14 + th > H ? sy - th - 10 : sy + 14) + "px";
  }
  function hideTip() { tip.hidden = true; tip.removeAttribute("data-point"); }

  // pan (drag), zoom (wheel, buttons), click (a point opens its cluster)
  var drag = null;
  function local(ev) { var r = mapDiv.getBoundingClientRect(); return [ev.clientX - r.left, ev.clientY - r.top]; }
  // on the map's box, so that the pointer over a label still hovers the points under it
  mapDiv.addEventListener("pointerdown", function (ev) {
    var p = local(ev);
    drag = { x: p[0], y: p[1], cx: view.cx, cy: view.cy, moved: false };
  });
  mapDiv.addEventListener("pointermove", function (ev) {
    var p = local(ev);
    if (drag) {
      if (Math.abs(p[0] - drag.x) + Math.abs(p[1] - drag.y) > 3) { drag.moved = true; }
      if (drag.moved) {
        view.cx = drag.cx - (p[0] - drag.x) / view.k; view.cy = drag.cy + (p[1] - drag.y) / view.k;
        hideTip(); redraw(); return;
      }
    }
    var i = nearest(p[0], p[1], 8);
    if (i >= 0) { showTip(i, p[0], p[1]); canvas.style.cursor = "pointer"; } else { hideTip(); canvas.style.cursor = "grab"; }
  });
  mapDiv.addEventListener("pointerup", function (ev) {
    var p = local(ev), wasDrag = drag && drag.moved, label = ev.target.closest ? ev.target.closest(".map-label") : null;
    drag = null;
    if (wasDrag) { return; }
    if (label) { select(label.getAttribute("data-id")); return; }  // a name opens its cluster
    var i = nearest(p[0], p[1], 8), id = i >= 0 ? MAP.nodes[PNODE[i]] : null;
    if (id && NODES[id]) { select(id); }
  });
  mapDiv.addEventListener("pointerleave", function () { drag = null; hideTip(); });
  labelLayer.addEventListener("keydown", function (ev) {
    var label = ev.target.closest ? ev.target.closest(".map-label") : null;
    if (label && ev.key === "Enter") { select(label.getAttribute("data-id")); }
  });
  function zoomAt(sx, sy, factor) {
    var k = Math.max(fitK * 0.5, Math.min(fitK * 4096, view.k * factor));
    var x = view.cx + (sx - W / 2) / view.k, y = view.cy - (sy - H / 2) / view.k;
    view.k = k; view.cx = x - (sx - W / 2) / k; view.cy = y + (sy - H / 2) / k;
    hideTip(); redraw();
  }
  mapDiv.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var p = local(ev);
    zoomAt(p[0], p[1], Math.exp(-ev.deltaY * (ev.deltaMode === 1 ? 0.05 : 0.0015)));
  }, { passive: false });
  document.getElementById("zoom-in").addEventListener("click", function () { zoomAt(W / 2, H / 2, 2); });
  document.getElementById("zoom-out").addEventListener("click", function () { zoomAt(W / 2, H / 2, 0.5); });
  document.getElementById("zoom-fit").addEventListener("click", function () { fitView(); redraw(); });

  // colour by: clusters (families) or a facet, with its legend
  function legendItem(hex, text, count, emphasised) {
    var li = el("li", emphasised ? { "class": "emphasised" } : null);
    var sw = el("span", { "class": "swatch" });
    sw.style.background = hex;
    li.appendChild(sw);
    li.appendChild(el("span", { "class": "legend-name" }, text));
    if (count !== null) { li.appendChild(el("span", { "class": "tree-count" }, fmtInt(count))); }
    return li;
  }
  function renderLegend() {
    while (legend.firstChild) { legend.removeChild(legend.firstChild); }
    legend.setAttribute("data-mode", mode);
    var ul = el("ul");
    if (mode === "cluster") {
      var counts = {};
      for (var i = 0; i < N; i++) { var id = MAP.nodes[PNODE[i]], top = id === UNCLUSTERED ? id : ((NODES[id] && NODES[id].top) || id); counts[top] = (counts[top] || 0) + 1; }
      DATA.roots.concat([UNCLUSTERED]).forEach(function (r) {
        if (!counts[r]) { return; }
        ul.appendChild(legendItem(r === UNCLUSTERED ? UNCLUSTERED_COLOUR : colour(r), r === UNCLUSTERED ? "Unclustered" : NODES[r].name, counts[r], false));
      });
      legend.appendChild(el("p", { "class": "muted small" }, "Each top-level cluster has its colour; its base clusters are shades of it."));
    } else {
      var f = FACETS[mode], fc = facetColours(f), n = new Array(f.values.length).fill(0);
      for (var j = 0; j < N; j++) { n[f.data[j]]++; }
      f.values.forEach(function (v, k) {
        if (!n[k]) { return; }
        var text = v, em = f.emphasis.indexOf(k) >= 0;
        if (f.key === "week" && /^\d/.test(v)) { text = "week of " + v + (em ? " (latest: new this week)" : ""); }
        ul.appendChild(legendItem(fc[k], text, n[k], em));
      });
    }
    legend.appendChild(ul);
  }
  MAP.facets.forEach(function (f) { colourBy.appendChild(el("option", { "value": f.key }, f.label)); });
  colourBy.addEventListener("change", function () { mode = colourBy.value; recolour(); renderLegend(); hideTip(); redraw(); });
  function highlight(id) {
    selectedMap = id;
    LABELS.forEach(function (L) { L.el.classList.toggle("selected", L.id === id); });
    recolour(); redraw();
  }

  Array.prototype.forEach.call(document.querySelectorAll("#tree .swatch[data-id]"), function (sw) {
    sw.style.background = nodeColour(sw.getAttribute("data-id"));
  });
  resize(); fitView(); measureLabels(); recolour(); renderLegend(); draw();
  if (performance.mark) { performance.mark("kura-map-drawn"); }
  if (window.ResizeObserver) {
    new ResizeObserver(function () { if (mapDiv.clientWidth !== W || mapDiv.clientHeight !== H) { var k = view.k / fitK; resize(); var c = [view.cx, view.cy]; fitView(); view.k = fitK * k; view.cx = c[0]; view.cy = c[1]; redraw(); } }).observe(mapDiv);
  }
  var mapApi = {
    count: N,
    view: function () { return { cx: view.cx, cy: view.cy, k: view.k, fitK: fitK, width: W, height: H }; },
    setView: function (cx, cy, k) { view = { cx: cx, cy: cy, k: k }; draw(); },
    zoomAt: function (sx, sy, f) { zoomAt(sx, sy, f); draw(); },
    fit: function () { fitView(); draw(); },
    screenOf: function (i) { return [screenX(X[i]), screenY(Y[i])]; },
    nodeOf: function (i) { return MAP.nodes[PNODE[i]]; },
    colourOf: function (i) { var c = PCOL[i]; return rgbHex([c & 255, (c >> 8) & 255, (c >>> 16) & 255]); },
    frameTimes: frameTimes,
    draw: draw
  };

  // ---- alerts ----------------------------------------------------------------------------
  function alertItem(a, withWeek) {
    var li = el("li", { "class": "alert " + a.type, "data-alert": a.id });
    li.appendChild(el("span", { "class": "badge " + a.severity }, a.severity));
    if (withWeek) { li.appendChild(el("span", { "class": "muted small" }, "week of " + fmtDate(a.week) + " · ")); }
    li.appendChild(el("span", { "class": "alert-message" }, a.message));
    if (a.node && NODES[a.node]) {
      li.className += " clickable";
      li.setAttribute("tabindex", "0");
      li.title = "Open " + NODES[a.node].name;
      li.addEventListener("click", function () { select(a.node); });
      li.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { select(a.node); } });
    }
    return li;
  }
  if (ALERTS.length) {
    var panel = document.getElementById("alerts-panel");
    var list = document.getElementById("alerts");
    list.className = "alerts";
    panel.hidden = false;
    var earlier = ALERTS.length - currentAlerts.length;
    document.getElementById("alerts-sub").textContent = currentAlerts.length
      ? "this week (" + fmtDate(currentAlerts[0].week) + "), from kura__alerts; earlier weeks' alerts are in each cluster's details"
      : "none this week; " + fmtInt(earlier) + " in earlier weeks, in each cluster's details";
    currentAlerts.forEach(function (a) { list.appendChild(alertItem(a, false)); });
  }

  // ---- detail ----------------------------------------------------------------------------
  var detail = document.getElementById("detail");
  function stat(label, value) {
    var d = el("div", { "class": "stat" });
    d.appendChild(el("span", { "class": "label" }, label));
    d.appendChild(el("span", { "class": "value" }, value));
    return d;
  }
  // plotly.js (inlined from the plotly package, never data) is run on the first chart, not at
  // load: the map needs none of it, and running it takes longer than drawing the map
  function needPlotly() {
    if (window.Plotly) { return; }
    var s = document.createElement("script");
    s.textContent = document.getElementById("plotly-js").textContent;
    document.head.appendChild(s);
    document.head.removeChild(s);  // it has run; the page keeps its three script elements
  }
  function clearDetail() {
    if (window.Plotly) { Array.prototype.forEach.call(detail.querySelectorAll(".chart"), function (c) { Plotly.purge(c); }); }
    while (detail.firstChild) { detail.removeChild(detail.firstChild); }
  }
  function chart(container, id, title, trace, layout) {
    var c = el("div", { "class": "chart", "id": id });
    container.appendChild(c);
    needPlotly();
    Plotly.newPlot(c, [trace], Object.assign({
      title: { text: esc(title), font: { size: 13 } }, margin: { l: 40, r: 10, t: 36, b: 40 },
      plot_bgcolor: "#ffffff", paper_bgcolor: "#ffffff"
    }, layout || {}), { responsive: true, displaylogo: false, displayModeBar: false });
  }
  function barH(container, id, title, pairs, colourHex) {
    if (!pairs || !pairs.length) { return; }
    var rev = pairs.slice().reverse();
    chart(container, id, title, {
      type: "bar", orientation: "h", x: rev.map(function (p) { return p[1]; }),
      y: rev.map(function (p) { return esc(p[0]); }), marker: { color: colourHex },
      hovertemplate: "%{y}: %{x}<extra></extra>"
    }, { margin: { l: 110, r: 10, t: 36, b: 30 }, yaxis: { automargin: true } });
  }
  function renderCluster(n) {
    var crumbs = el("div", { "class": "crumbs" });
    ancestors(n.id).forEach(function (aid) {
      var a = el("span", { "class": "link", "data-id": aid }, NODES[aid].name);
      a.addEventListener("click", function () { select(aid); });
      crumbs.appendChild(a);
      crumbs.appendChild(document.createTextNode(" › "));
    });
    crumbs.appendChild(document.createTextNode("level " + n.level + " · " + n.id));
    detail.appendChild(crumbs);
    detail.appendChild(el("h2", { "id": "detail-name" }, n.name));
    if (n.description) { detail.appendChild(el("p", { "id": "detail-description" }, n.description)); }
    if (n.keywords && n.keywords.length) {
      var kw = el("div", { "class": "keywords" });
      n.keywords.forEach(function (k) { kw.appendChild(el("span", null, k)); });
      detail.appendChild(kw);
    }
    var stats = el("div", { "class": "stats", "id": "detail-stats" });
    stats.appendChild(stat("Conversations", fmtInt(n.size)));
    stats.appendChild(stat("Share of conversations", fmtPct(n.share)));
    stats.appendChild(stat("Distinct users", fmtInt(n.users)));
    stats.appendChild(stat("Thumbs-up rate", fmtPct(n.thumbs_up_rate)));
    stats.appendChild(stat("Average rating", fmtNum(n.avg_rating, 2)));
    stats.appendChild(stat("Feedback", fmtInt(n.feedback_count)));
    stats.appendChild(stat("Revenue (users' MRR)", fmtMoney(n.revenue)));
    stats.appendChild(stat("Paying users", fmtInt(n.paying_users)));
    stats.appendChild(stat("Average turns", fmtNum(n.avg_turns, 1)));
    stats.appendChild(stat("Frustration (1-5)", fmtNum(n.avg_user_frustration, 1)));
    stats.appendChild(stat("Concerning (1-5)", fmtNum(n.avg_concerning_score, 1)));
    stats.appendChild(stat("Seen", fmtDate(n.first_seen) + " → " + fmtDate(n.last_seen)));
    detail.appendChild(stats);
    overRepresented(n);

    var charts = el("div", { "class": "charts" });
    detail.appendChild(charts);
    var c = colour(n.top);
    if (n.weekly && DATA.weeks.length) {
      chart(charts, "chart-weekly", "Conversations per week", {
        type: "bar", x: DATA.weeks, y: n.weekly, marker: { color: c },
        hovertemplate: "week of %{x}: %{y}<extra></extra>"
      }, { xaxis: { type: "date" } });
    }
    var f = n.facets || {};
    barH(charts, "chart-languages", "Languages", f.languages, c);
    if (f.turns && f.turns.length) {
      chart(charts, "chart-turns", "Messages per conversation", {
        type: "bar", x: f.turns.map(function (p) { return p[0]; }), y: f.turns.map(function (p) { return p[1]; }),
        marker: { color: c }, hovertemplate: "%{x} messages: %{y}<extra></extra>"
      }, { xaxis: { type: "category" } });
    }
    barH(charts, "chart-flags", "Flags", f.flags, c);

    if (n.children && n.children.length) {
      detail.appendChild(el("h3", null, "Clusters inside"));
      var ul = el("ul", { "class": "children" });
      n.children.forEach(function (k) {
        var kn = NODES[k];
        var li = el("li");
        var a = el("span", { "class": "link", "data-id": k }, kn.name);
        a.addEventListener("click", function () { select(k); });
        li.appendChild(a);
        li.appendChild(el("span", { "class": "tree-count" }, countText(kn)));
        ul.appendChild(li);
      });
      detail.appendChild(ul);
    }
    var mine = ALERTS.filter(function (a) { return a.node === n.id; });
    if (mine.length) {
      detail.appendChild(el("h3", null, "Alerts (" + mine.length + ")"));
      var al = el("ul", { "class": "alerts", "id": "detail-alerts" });
      mine.slice(0, 20).forEach(function (a) { al.appendChild(alertItem(a, true)); });
      detail.appendChild(al);
    }
    detail.appendChild(el("h3", null, "Sample summaries"));
    if (n.samples && n.samples.length) {
      var ol = el("ol", { "class": "samples", "id": "detail-samples" });
      n.samples.forEach(function (s) { ol.appendChild(el("li", null, s)); });
      detail.appendChild(ol);
    } else {
      detail.appendChild(el("p", { "class": "muted" }, "No summaries to show."));
    }
  }
  // the facet values this cluster holds more of than all clustered conversations do, from the
  // mart kura__cluster_facets (shown cells only), by lift
  function overRepresented(n) {
    var rows = n.over_represented || [];
    if (!rows.length) { return; }
    detail.appendChild(el("h3", null, "Over-represented here"));
    var table = el("table", { "class": "overrep", "id": "detail-overrep" });
    var head = el("tr");
    ["Facet", "Value", "In cluster", "Overall", "Lift", "p (Bonferroni)"].forEach(function (h) {
      head.appendChild(el("th", null, h));
    });
    table.appendChild(head);
    // small shares with one decimal, so that 0.4% does not read as 0%
    function share(v) { return v === null || v === undefined ? "–" : (100 * v).toFixed(v < 0.1 ? 1 : 0) + "%"; }
    rows.forEach(function (r) {
      var tr = el("tr", { "class": r.p_bonferroni !== null && r.p_bonferroni < 0.05 ? "significant" : "" });
      tr.appendChild(el("td", null, r.facet.replace(/_/g, " ")));
      tr.appendChild(el("td", { "class": "value" }, r.value));
      tr.appendChild(el("td", null, share(r.share) + " (" + fmtInt(r.conversations) + ")"));
      tr.appendChild(el("td", null, share(r.overall_share)));
      tr.appendChild(el("td", null, "×" + fmtNum(r.lift, 2)));
      tr.appendChild(el("td", null, r.p_bonferroni === null ? "–" : Number(r.p_bonferroni).toPrecision(2)));
      table.appendChild(tr);
    });
    detail.appendChild(table);
  }
  function renderOther(n) {
    var crumbs = el("div", { "class": "crumbs" });
    ancestors(n.id).forEach(function (aid) {
      var a = el("span", { "class": "link" }, NODES[aid].name);
      a.addEventListener("click", function () { select(aid); });
      crumbs.appendChild(a);
      crumbs.appendChild(document.createTextNode(" › "));
    });
    crumbs.appendChild(document.createTextNode("level " + n.level));
    detail.appendChild(crumbs);
    detail.appendChild(el("h2", { "id": "detail-name" }, n.name));
    detail.appendChild(el("p", { "id": "detail-description", "class": "muted" },
      "These clusters are below the privacy thresholds (too few distinct users or conversations), " +
      "so only their counts are shown: no names, descriptions or summaries."));
    var stats = el("div", { "class": "stats", "id": "detail-stats" });
    stats.appendChild(stat("Clusters", fmtInt(n.clusters)));
    stats.appendChild(stat("Conversations", fmtInt(n.size)));
    stats.appendChild(stat("Distinct users", fmtInt(n.users)));
    detail.appendChild(stats);
    var mine = ALERTS.filter(function (a) { return a.node === n.id; });
    if (mine.length) {
      detail.appendChild(el("h3", null, "Alerts (" + mine.length + ")"));
      var al = el("ul", { "class": "alerts", "id": "detail-alerts" });
      mine.slice(0, 20).forEach(function (a) { al.appendChild(alertItem(a, true)); });
      detail.appendChild(al);
    }
  }
  function select(id) {
    var n = NODES[id];
    if (!n) { return; }
    if (selectedId && treeRows[selectedId]) { treeRows[selectedId].classList.remove("selected"); }
    selectedId = id;
    ancestors(id).forEach(function (aid) { if (treeRows[aid] && treeRows[aid].tagName === "DETAILS") { treeRows[aid].open = true; } });
    if (treeRows[id]) {
      treeRows[id].classList.add("selected");
      if (treeRows[id].scrollIntoView) { treeRows[id].scrollIntoView({ block: "nearest" }); }
    }
    clearDetail();
    detail.setAttribute("data-selected", id);
    if (n.kind === "other") { renderOther(n); } else { renderCluster(n); }
    highlight(id);
  }

  // ---- search ----------------------------------------------------------------------------
  var input = document.getElementById("search");
  var results = document.getElementById("search-results");
  function marked(text, q) {
    var frag = document.createDocumentFragment(), lower = text.toLowerCase(), i = 0, j;
    while ((j = lower.indexOf(q, i)) >= 0) {
      frag.appendChild(document.createTextNode(text.slice(i, j)));
      frag.appendChild(el("mark", null, text.slice(j, j + q.length)));
      i = j + q.length;
    }
    frag.appendChild(document.createTextNode(text.slice(i)));
    return frag;
  }
  function snippet(text, q) {
    var j = text.toLowerCase().indexOf(q);
    if (text.length <= 180) { return text; }
    var start = Math.max(0, j - 60);
    return (start > 0 ? "…" : "") + text.slice(start, start + 180) + (start + 180 < text.length ? "…" : "");
  }
  function runSearch() {
    var q = input.value.trim().toLowerCase();
    while (results.firstChild) { results.removeChild(results.firstChild); }
    results.setAttribute("data-query", q);
    if (q.length < 2) { results.hidden = true; return; }
    var clusterHits = Object.keys(NODES).map(function (k) { return NODES[k]; }).filter(function (n) {
      if (n.kind !== "cluster") { return false; }
      var hay = [n.name, n.description || ""].concat(n.keywords || []).join(" ").toLowerCase();
      return hay.indexOf(q) >= 0;
    }).sort(function (a, b) {
      var an = a.name.toLowerCase().indexOf(q) >= 0 ? 0 : 1, bn = b.name.toLowerCase().indexOf(q) >= 0 ? 0 : 1;
      return an - bn || b.size - a.size;  // name matches first, then the biggest
    });
    var summaryHits = DATA.search.filter(function (s) { return s[0].toLowerCase().indexOf(q) >= 0; });
    results.appendChild(el("h3", null, "Clusters (" + clusterHits.length + ")"));
    var ul = el("ul", { "id": "search-clusters" });
    clusterHits.slice(0, 20).forEach(function (n) {
      var li = el("li", { "tabindex": "0", "data-id": n.id, "class": "result" });
      var name = el("span", { "class": "result-cluster" });
      name.appendChild(marked(n.name, q));
      li.appendChild(name);
      if (n.description) { li.appendChild(marked(snippet(n.description, q), q)); }
      ul.appendChild(li);
    });
    results.appendChild(ul);
    results.appendChild(el("h3", null, "Summaries (" + summaryHits.length + (summaryHits.length > 50 ? ", first 50" : "") + ")"));
    var ul2 = el("ul", { "id": "search-summaries" });
    summaryHits.slice(0, 50).forEach(function (s) {
      var nid = DATA.base_node[s[1]] || s[1];
      var li = el("li", { "tabindex": "0", "data-id": nid, "class": "result" });
      li.appendChild(el("span", { "class": "result-cluster" }, NODES[nid] ? NODES[nid].name : nid));
      li.appendChild(marked(snippet(s[0], q), q));
      ul2.appendChild(li);
    });
    results.appendChild(ul2);
    results.hidden = false;
  }
  var timer = null;
  input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(runSearch, 120); });
  input.addEventListener("focus", function () { if (input.value.trim().length >= 2) { runSearch(); } });
  function pick(ev) {
    var li = ev.target.closest ? ev.target.closest("li.result") : null;
    if (li && li.getAttribute("data-id")) { results.hidden = true; select(li.getAttribute("data-id")); }
  }
  results.addEventListener("click", pick);
  results.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { pick(ev); } });
  document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { results.hidden = true; } });
  document.addEventListener("click", function (ev) {
    if (!results.hidden && !results.contains(ev.target) && ev.target !== input) { results.hidden = true; }
  });

  window.kuraReport = { select: select, data: DATA, map: mapApi };
  document.body.setAttribute("data-ready", "1");
})();
