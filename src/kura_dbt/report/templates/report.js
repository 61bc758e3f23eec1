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
  function wrap(s, width) {
    var words = String(s).split(/\s+/), lines = [], line = "";
    words.forEach(function (w) {
      if (line && (line + " " + w).length > width) { lines.push(line); line = w; }
      else { line = line ? line + " " + w : w; }
    });
    if (line) { lines.push(line); }
    if (lines.length > 8) { lines = lines.slice(0, 8); lines[7] += " …"; }
    return lines.map(esc).join("<br>");
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
    if (!n.parent) {
      var sw = el("span", { "class": "swatch" });
      sw.style.background = colour(n.id);
      container.appendChild(sw);
    }
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

  // ---- map -------------------------------------------------------------------------------
  var mapDiv = document.getElementById("map");
  var traceOrder = DATA.roots.slice();
  var groups = {};
  DATA.points.forEach(function (p) {
    var nodeId = p[2];
    var top = nodeId === UNCLUSTERED ? UNCLUSTERED : ((NODES[nodeId] && NODES[nodeId].top) || nodeId);
    if (!groups[top]) { groups[top] = { x: [], y: [], text: [], ids: [] }; }
    if (traceOrder.indexOf(top) < 0) { traceOrder.push(top); }
    var g = groups[top];
    g.x.push(p[0]); g.y.push(p[1]); g.ids.push(nodeId);
    var label;
    if (nodeId === UNCLUSTERED) {
      label = "<b>Unclustered</b>";
    } else {
      var node = NODES[nodeId], topNode = NODES[top];
      label = "<b>" + esc(topNode ? topNode.name : "Other") + "</b>";
      if (node && node.id !== top) { label += "<br>" + esc(node.name); }
      if (node && node.kind === "other") {
        label += "<br><i>below the privacy thresholds: no summary shown</i>";
      } else if (p[3] !== null && p[3] !== undefined) {
        label += "<br><br>" + wrap(p[3], 80);
      }
    }
    g.text.push(label);
  });
  var gl = DATA.points.length > 5000;
  var traces = [];
  traceOrder.forEach(function (top) {
    var g = groups[top];
    if (!g) { return; }
    var name = top === UNCLUSTERED ? "Unclustered" : (NODES[top] ? NODES[top].name : "Other");
    traces.push({
      type: gl ? "scattergl" : "scatter", mode: "markers", name: esc(name),
      x: g.x, y: g.y, text: g.text, customdata: g.ids,
      hovertemplate: "%{text}<extra></extra>",
      marker: { size: 6, color: colour(top), opacity: 0.8, line: { width: 0 } }
    });
  });
  var mapTraceIds = traces.map(function (tr) { return tr.customdata; });
  Plotly.newPlot(mapDiv, traces, {
    margin: { l: 10, r: 10, t: 10, b: 10 }, hovermode: "closest", dragmode: "zoom",
    xaxis: { visible: false }, yaxis: { visible: false, scaleanchor: "x" },
    legend: { orientation: "h", y: -0.02, yanchor: "top" }, hoverlabel: { align: "left" },
    plot_bgcolor: "#ffffff", paper_bgcolor: "#ffffff"
  }, { responsive: true, scrollZoom: true, displaylogo: false });
  mapDiv.on("plotly_click", function (ev) {
    var p = ev && ev.points && ev.points[0];
    if (p && p.customdata && NODES[p.customdata]) { select(p.customdata); }
  });
  function highlight(id) {
    var opacities = mapTraceIds.map(function (ids) {
      return ids.map(function (nid) { return !id || (nid !== UNCLUSTERED && isWithin(nid, id)) ? 0.85 : 0.12; });
    });
    Plotly.restyle(mapDiv, { "marker.opacity": opacities });
  }

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
  function clearDetail() {
    Array.prototype.forEach.call(detail.querySelectorAll(".chart"), function (c) { Plotly.purge(c); });
    while (detail.firstChild) { detail.removeChild(detail.firstChild); }
  }
  function chart(container, id, title, trace, layout) {
    var c = el("div", { "class": "chart", "id": id });
    container.appendChild(c);
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

  window.kuraReport = { select: select, data: DATA };
  document.body.setAttribute("data-ready", "1");
})();
