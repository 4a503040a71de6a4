// kernelgym view: the episodes table, paged, sorted and filtered on the server (/api/episodes).
// Every value from a run is put in the page with textContent: run content is never parsed as HTML.
(function () {
  "use strict";
  // on an episode page: j / → for the next episode of the table it was opened from, k / ← for the previous
  document.addEventListener("keydown", function (ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey || (ev.target.closest && ev.target.closest("input, select, textarea"))) return;
    const id = { j: "next", ArrowRight: "next", k: "prev", ArrowLeft: "prev" }[ev.key];
    const link = id && document.getElementById(id);
    if (link) location.href = link.href;
  });
  const form = document.getElementById("filters");
  const table = document.getElementById("episodes");
  if (!form || !table) return;
  const tbody = table.querySelector("tbody");
  const status = document.getElementById("status");
  const pageinfo = document.getElementById("pageinfo");
  const FIELDS = ["runs", "family", "category", "outcome", "stop", "q", "task", "per_page"];
  const state = Object.fromEntries(new URLSearchParams(location.search));
  state.page = parseInt(state.page || "1", 10) || 1;
  let pages = 1, timer = null, seq = 0;

  for (const name of FIELDS) {
    const el = form.elements[name];
    if (el && state[name] !== undefined) el.value = state[name];
  }

  function params() {
    const qs = new URLSearchParams();
    for (const name of FIELDS) {
      const el = form.elements[name];
      if (el && el.value) qs.set(name, el.value);
    }
    if (state.sort) qs.set("sort", state.sort);
    if (state.desc) qs.set("desc", "1");
    if (state.page > 1) qs.set("page", String(state.page));
    return qs;
  }

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "-" : String(text);
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  let carried = "";  // the table's filters and order, carried to an episode page for previous / next

  function render(data) {
    const qs = params();
    qs.delete("page");
    qs.delete("per_page");
    carried = qs.toString();
    const rows = data.rows.map(function (r) {
      const tr = document.createElement("tr");
      tr.className = r.outcome;
      cell(tr, r.run_label, "run");
      const td = cell(tr, "", "task");
      const a = document.createElement("a");
      a.href = "/run/" + r.run + "/episode/" + r.i + (carried ? "?" + carried : "");
      a.textContent = r.task_id;
      td.appendChild(a);
      cell(tr, r.family);
      cell(tr, r.category);
      cell(tr, r.rollout, "num");
      cell(tr, r.passed ? "✓ passed" : (r.outcome === "error" ? "⚠ error" : "✗ failed"), "passed");
      cell(tr, r.score, "num");
      cell(tr, r.stop_reason, "stop");
      cell(tr, r.turns, "num");
      cell(tr, r.attempts, "num");
      cell(tr, r.reward, "num");
      cell(tr, r.duration_s.toFixed(2) + " s", "num");
      cell(tr, r.tokens === null ? "-" : r.tokens.toLocaleString(), "num");
      const ans = cell(tr, r.answer, "answer");
      ans.title = r.answer;
      return tr;
    });
    tbody.replaceChildren.apply(tbody, rows);
    pages = data.pages;
    state.page = data.page;
    status.textContent = data.matched.toLocaleString() + " of " + data.total.toLocaleString() +
      " episodes · answered in " + data.elapsed_ms + " ms" +
      (data.prompts_indexed ? "" : " · still reading prompts: the search covers answers and task ids so far");
    pageinfo.textContent = "page " + data.page + " of " + data.pages;
    for (const th of table.querySelectorAll("th[data-sort]")) {
      th.classList.toggle("sorted-asc", th.dataset.sort === (state.sort || "task_id") && !state.desc);
      th.classList.toggle("sorted-desc", th.dataset.sort === (state.sort || "task_id") && !!state.desc);
    }
    table.dataset.loaded = String(++seq);
  }

  function load() {
    const qs = params();
    history.replaceState(null, "", "?" + qs.toString());
    status.textContent = "loading…";
    fetch("/api/episodes?" + qs.toString(), { headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status + " " + r.statusText); return r.json(); })
      .then(render)
      .catch(function (e) { status.textContent = "error: " + e.message; });
  }

  form.addEventListener("change", function () { state.page = 1; load(); });
  form.addEventListener("input", function (ev) {
    if (ev.target.name !== "q") return;
    clearTimeout(timer);
    timer = setTimeout(function () { state.page = 1; load(); }, 250);
  });
  function sortBy(th) {
    const key = th.dataset.sort;
    if ((state.sort || "task_id") === key) state.desc = state.desc ? "" : "1";
    else { state.sort = key; state.desc = ""; }
    state.page = 1;
    load();
  }
  for (const th of table.querySelectorAll("th[data-sort]")) {
    th.addEventListener("click", function () { sortBy(th); });
    th.addEventListener("keydown", function (ev) { if (ev.key === "Enter") sortBy(th); });
  }
  for (const b of document.querySelectorAll(".pager button")) {
    b.addEventListener("click", function () {
      const to = { first: 1, prev: state.page - 1, next: state.page + 1, last: pages }[b.dataset.page];
      state.page = Math.max(1, Math.min(pages, to));
      load();
    });
  }
  load();
})();
