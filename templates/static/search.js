/*
 * tsuzuri site search: progressive enhancement of the plain GET form on /search/.
 * Loads the sharded index (/search/index.json, then each year's shard) on the first
 * query and matches in the browser: character bigrams for Japanese runs, whole words
 * for Latin text (the same rule as tsuzuri/rendering/search_index.py). No external
 * service. Messages and the date format come from the status element's data-*
 * attributes, in the site's language.
 */
(function () {
  "use strict";
  var form = document.querySelector(".search-form");
  var input = document.getElementById("search-query");
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  if (!form || !input || !status || !list || !window.fetch) return;

  function text(name, fallback) {
    var value = status.getAttribute("data-" + name);
    return value === null ? fallback : value;
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : all;
    });
  }

  var MONTHS = text("months", "").split(",");

  // "2025-11-03" as every page writes the date ("2025年11月3日", "November 3, 2025").
  function displayDate(iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
    if (!m) return iso;
    var month = parseInt(m[2], 10);
    return fill(text("date", "{year}-{month}-{day}"), {
      year: parseInt(m[1], 10), month: month, day: parseInt(m[3], 10),
      month_name: MONTHS[month - 1] || month
    });
  }

  var CJK = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]/;
  var docs = null;
  var loading = null;

  function norm(text) {
    return String(text).normalize("NFKC").toLowerCase();
  }

  function grams(query) {
    var out = [];
    norm(query).split(/\s+/).forEach(function (term) {
      var run = "";
      var latin = "";
      Array.from(term + " ").forEach(function (ch) {
        if (CJK.test(ch)) {
          run += ch;
          if (latin.trim()) out.push(latin.trim());
          latin = "";
          return;
        }
        if (run) {
          if (run.length === 1) out.push(run);
          for (var i = 0; i + 1 < run.length; i++) out.push(run.slice(i, i + 2));
          run = "";
        }
        latin += ch;
      });
      if (latin.trim()) out.push(latin.trim());
    });
    return out.filter(function (g, i) { return g && out.indexOf(g) === i; });
  }

  function load() {
    if (loading) return loading;
    var manifestUrl = status.getAttribute("data-index");
    loading = fetch(manifestUrl)
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (manifest) {
        return Promise.all(manifest.shards.map(function (shard) {
          return fetch(shard.url + "?v=" + shard.v).then(function (r) { return r.json(); });
        }));
      })
      .then(function (shards) {
        docs = [];
        shards.forEach(function (entries) {
          entries.forEach(function (e) {
            docs.push({
              url: e[0], title: e[1], date: e[2], tags: e[3], excerpt: e[4],
              t: norm(e[1]), g: norm(e[3].join(" ")), h: norm(e[5].join(" ")), x: norm(e[4]),
              b: norm(e[6] || "")
            });
          });
        });
        return docs;
      });
    return loading;
  }

  function score(doc, gs) {
    var total = 0;
    for (var i = 0; i < gs.length; i++) {
      var g = gs[i];
      var s = (doc.t.indexOf(g) >= 0 ? 6 : 0) + (doc.g.indexOf(g) >= 0 ? 4 : 0) +
        (doc.h.indexOf(g) >= 0 ? 2 : 0) + (doc.x.indexOf(g) >= 0 ? 1 : 0) +
        (doc.b.indexOf(g) >= 0 ? 1 : 0);
      if (!s) return 0;
      total += s;
    }
    return total;
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function show(query) {
    var gs = grams(query);
    list.textContent = "";
    if (!gs.length) {
      status.textContent = text("prompt", "");
      return;
    }
    status.textContent = text("searching", "…");
    load().then(function (all) {
      var hits = [];
      all.forEach(function (doc) {
        var s = score(doc, gs);
        if (s) hits.push([s, doc]);
      });
      hits.sort(function (a, b) {
        return b[0] - a[0] || (a[1].date < b[1].date ? 1 : a[1].date > b[1].date ? -1 : 0);
      });
      status.textContent = fill(text("results", "{count}"), { query: query, count: hits.length });
      hits.slice(0, 50).forEach(function (hit) {
        var doc = hit[1];
        var li = el("li");
        var card = el("article", "post-card");
        var h2 = el("h2", "post-card-title");
        var a = el("a", "", doc.title);
        a.href = doc.url;
        h2.appendChild(a);
        card.appendChild(h2);
        var meta = el("p", "post-card-meta");
        var time = el("time", "", displayDate(doc.date));
        time.setAttribute("datetime", doc.date);
        meta.appendChild(time);
        card.appendChild(meta);
        if (doc.excerpt) card.appendChild(el("p", "post-card-excerpt", doc.excerpt));
        li.appendChild(card);
        list.appendChild(li);
      });
    }).catch(function () {
      status.textContent = text("error", "");
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var query = input.value.trim();
    history.replaceState(null, "", query ? "?q=" + encodeURIComponent(query) : location.pathname);
    show(query);
  });

  var initial = new URLSearchParams(location.search).get("q");
  status.textContent = text("prompt", "");
  if (initial) {
    input.value = initial;
    show(initial);
  }
})();
