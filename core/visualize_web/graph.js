// Draws chinwag's story graph: dagre lays it out, this script draws it as SVG.
// Live pages (chinwag interactive) long-poll visualization.json and redraw on each change.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var host = document.getElementById("graph");
  var status = document.getElementById("status");
  var ruler = document.createElement("canvas").getContext("2d");
  ruler.font = "14px sans-serif";

  function make(name, attrs, parent) {
    var element = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (key) { element.setAttribute(key, attrs[key]); });
    if (parent) parent.appendChild(element);
    return element;
  }

  function draw(data) {
    var g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: "TB", nodesep: 24, ranksep: 36, marginx: 16, marginy: 16 });
    g.setDefaultEdgeLabel(function () { return {}; });
    data.nodes.forEach(function (node) {
      var width = Math.max(64, ruler.measureText(node.label).width + 24);
      g.setNode(node.id, { width: width, height: 30, data: node });
    });
    data.edges.forEach(function (edge) { g.setEdge(edge.source, edge.target, { data: edge }); });
    dagre.layout(g);
    var size = g.graph();
    var svg = make("svg", {
      width: size.width, height: size.height, viewBox: "0 0 " + size.width + " " + size.height,
    });
    var marker = make("marker", {
      id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 8, markerHeight: 8,
      markerUnits: "userSpaceOnUse",
      orient: "auto-start-reverse",
    }, make("defs", {}, svg));
    make("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#999" }, marker);
    g.edges().forEach(function (id) {
      var edge = g.edge(id);
      var d = edge.points.map(function (p, i) { return (i ? "L" : "M") + p.x + " " + p.y; });
      make("path", {
        "class": "edge" + (edge.data.current ? " current" : ""),
        d: d.join(" "), "marker-end": "url(#arrow)",
      }, svg);
    });
    g.nodes().forEach(function (id) {
      var node = g.node(id);
      var info = node.data;
      var classes = ["node", info.kind];
      if (info.current) classes.push("current");
      if (info.latest) classes.push("latest");
      var group = make("g", { "class": classes.join(" "), "data-label": info.label }, svg);
      make("rect", {
        x: node.x - node.width / 2, y: node.y - node.height / 2, width: node.width,
        height: node.height, rx: info.kind === "intent" ? 14 : 3,
      }, group);
      make("text", { x: node.x, y: node.y }, group).textContent = info.label;
    });
    host.replaceChildren(svg);
    document.body.setAttribute("data-version", String(data.version));
  }

  function poll(version) {
    fetch("visualization.json?after=" + version, { cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        status.textContent = "live (version " + data.version + ")";
        if (data.version !== version) draw(data);
        poll(data.version);
      })
      .catch(function () {
        status.textContent = "chinwag interactive is not answering; retrying";
        setTimeout(function () { poll(version); }, 2000);
      });
  }

  if (window.CHINWAG_GRAPH) draw(window.CHINWAG_GRAPH);
  if (window.CHINWAG_LIVE) {
    document.getElementById("legend-live").hidden = false;
    poll(-1);
  }
})();
