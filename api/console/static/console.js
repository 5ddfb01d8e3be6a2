// Live updates of a server-rendered console page: one EventSource per page (GET /console/events?views=...),
// each event a record of a read-model view. Elements marked data-view/data-key hold a record; their data-field
// children show its fields, formatted like the server does (api/console/pages.py). Charts use Chart.js if loaded.
"use strict";
(() => {
  const KEYS = {
    games: "game_id", tweets: "command_id", tweet_receipts: "command_id", budgets: "account", scaling: "league",
    forecasts: "league", scaling_history: "command_id", servers: "server_id", alerts: "fingerprint",
    silences: "silence_id", breakers: "breaker", deployments: "deployment_id", decisions: "decision_id",
    overrides: "override_id", events: "event_id", flags: "flag_id", publisher_controls: "control_id",
  };
  const PUBLISH = { posted: "posted", failed: "failed", dry_run: "dry run", skipped_limit: "held", duplicate: "held" };
  const DASH = "\u2013";
  // The latest receipt of each tweet seen live: a tweet whose receipt came first (the publisher was quicker than the
  // feed) shows its status as soon as its row is made.
  const receipts = new Map();
  const RECEIPTS_KEPT = 1000;
  const receiptFields = (r) =>
    r ? { publish_status: PUBLISH[r.status] || r.status || "decided", receipt_detail: r.tweet_id || r.detail || "" } : {};

  const fmtNum = (v) => {
    if (v === null || v === undefined) return DASH;
    if (typeof v !== "number") return String(v);
    if (Number.isInteger(v)) return v.toLocaleString("en-US");
    return v.toLocaleString("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  };
  const fmtPct = (v) => (v === null || v === undefined ? DASH : `${(v * 100).toFixed(0)}%`);
  const fmtTime = (v) => {
    if (!v) return DASH;
    const d = new Date(v);
    return Number.isNaN(d.getTime()) ? String(v).slice(0, 19) : d.toISOString().slice(11, 19);
  };
  const fmtClock = (g) => {
    if (g.status === "final") return "Final";
    if (g.status === "scheduled") return "Scheduled";
    const period = g.period || 0;
    const s = Math.max(0, g.clock_seconds || 0);
    const label = period <= 4 ? `Q${period}` : `OT${period > 5 ? period - 4 : ""}`;
    return `${label} ${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  };
  const fmt = (record, field, format) => {
    if (format === "clock") return fmtClock(record);
    const v = record[field];
    if (v === null || v === undefined) return DASH;
    if (format === "num") return fmtNum(v);
    if (format === "num1" || format === "num2") {
      const digits = Number(format.slice(-1));
      return Number(v).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
    }
    if (format === "pct") return fmtPct(v);
    if (format === "time") return fmtTime(v);
    if (typeof v === "boolean") return v ? "yes" : "no";
    if (Array.isArray(v)) return v.join(", ") || DASH;
    if (typeof v === "object") return Object.entries(v).map(([k, x]) => `${k}=${x}`).join(", ");
    return String(v);
  };
  // A tweet is marked on the game's line: at the win probability the line had when the tweet's play happened.
  const onLine = (points, x, fallback) => {
    let y = null;
    for (const [px, py] of points) if (px <= x) y = py;
    return y === null ? (fallback ?? null) : y;
  };
  const epoch = (iso) => (iso ? new Date(iso).getTime() : null);
  // Whether an override, event or silence is still in effect (the same rules as pages.py).
  const until = (end) => (end !== null && end > Date.now() ? "active" : "expired");
  const eventStatus = (r) => {
    const starts = epoch(r.starts_at);
    if (starts === null) return "ended";
    if (starts > Date.now()) return "upcoming";
    return until(starts + (r.duration_seconds || 0) * 1000) === "active" ? "active" : "ended";
  };

  // Fields a page shows that are derived from a record.
  const enrich = {
    budgets: (r) => ({ ...r, left: Math.max(0, (r.limit || 0) - (r.used || 0)), ...(r.outlook || {}) }),
    deployments: (r) => ({ ...r, canary_verdict: r.canary ? `${r.canary.verdict} \u2014 ${r.canary.reason}` : null }),
    tweets: (r) => ({ publish_status: "decided", ...r, ...receiptFields(receipts.get(r.command_id)) }),
    overrides: (r) => ({ ...r, status: r.cancelled ? "cancelled" : until(epoch(r.expires_at)) }),
    events: (r) => ({ ...r, status: r.cancelled ? "cancelled" : eventStatus(r) }),
    silences: (r) => ({ ...r, status: r.cancelled ? "cancelled" : until(epoch(r.ends_at)) === "active" ? "active" : "ended" }),
  };

  const esc = (s) => String(s).replace(/["\\]/g, "\\$&");

  // The games a budget is watching, one item each (the same words as pages.fmt_watch).
  const watchText = (w) =>
    `${w.matchup || w.game_id} \u00b7 ${w.stage}${w.closeness ? `, ${w.closeness}` : ""} \u00b7 ${fmt(w, "decisive_ahead", "num2")} decisive ahead`;
  function fillList(el, items) {
    const lis = (items || []).map((w) => {
      const li = document.createElement("li");
      li.dataset.game = w.game_id;
      li.textContent = watchText(w);
      return li;
    });
    if (!lis.length) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = "no game to come";
      lis.push(li);
    }
    el.replaceChildren(...lis);
  }

  function fill(el, record) {
    const fields = el.matches("[data-field]") ? [el] : [];
    fields.push(...el.querySelectorAll("[data-field]"));
    for (const f of fields) {
      if (!(f.dataset.field in record) && f.dataset.format !== "clock") continue;
      if (f.dataset.format === "watching") {
        fillList(f, record[f.dataset.field]);
        continue;
      }
      const text = fmt(record, f.dataset.field, f.dataset.format);
      const badge = f.querySelector(".badge");
      const target = badge || f;
      if (target.textContent !== text) target.textContent = text;
      if (badge) badge.className = `badge s-${String(record[f.dataset.field]).replace(/[^a-z0-9_-]/gi, "-")}`;
    }
    if (el.dataset.league !== undefined && record.league) el.dataset.league = record.league;
  }

  function containerFor(view, record) {
    const all = [...document.querySelectorAll(`[data-view="${view}"][data-key-field]`)];
    if (view === "games") return all.find((c) => c.dataset.league === record.league) || all.find((c) => !c.dataset.league);
    return all[0];
  }

  function create(container, key) {
    const tpl = container.querySelector(":scope > template");
    if (!tpl) return null;
    const el = tpl.content.firstElementChild.cloneNode(true);
    el.dataset.key = key;
    for (const input of el.querySelectorAll("input[data-key-input]")) input.value = key; // what a row action acts on
    const log = Number(container.dataset.log || 0);
    if (log) {
      container.insertBefore(el, container.firstElementChild);
      const items = [...container.children].filter((c) => c.tagName !== "TEMPLATE");
      for (const old of items.slice(log)) old.remove();
    } else {
      container.insertBefore(el, tpl);
    }
    return el;
  }

  function apply(view, raw) {
    const record = enrich[view] ? enrich[view](raw) : raw;
    const key = String(record[KEYS[view]]);
    if (view === "tweet_receipts") return receipt(record);
    if (view === "flags") return flag(record);
    if (view === "publisher_controls") return control(record);
    const selector = `[data-view="${view}"] [data-key="${esc(key)}"], [data-view="${view}"][data-key="${esc(key)}"]`;
    let els = [...document.querySelectorAll(selector)];
    const container = containerFor(view, record);
    if (container) {
      const only = container.dataset.onlyStatus;
      const account = container.dataset.filterAccount;
      if ((only && record.status !== only) || (account && record.account !== account)) {
        for (const el of els) el.remove();
        return;
      }
      if (!els.length) {
        const el = create(container, key);
        if (el) els = [el];
      }
    }
    for (const el of els) fill(el, record);
    charts.update(view, record);
  }

  function receipt(r) {
    receipts.delete(r.command_id); // kept in arrival order: the oldest goes first
    receipts.set(r.command_id, r);
    if (receipts.size > RECEIPTS_KEPT) receipts.delete(receipts.keys().next().value);
    const fields = receiptFields(r);
    const status = fields.publish_status;
    for (const row of document.querySelectorAll(`[data-view="tweets"] [data-key="${esc(r.command_id)}"]`)) {
      fill(row, fields);
      const badge = row.querySelector('[data-field="publish_status"] .badge');
      if (badge) badge.className = `badge s-${status.replace(/ /g, "-")}`;
    }
  }

  // A flag row shows the value that applies to its league: the league's own flag, else the flag of every league;
  // its switch sets the other value.
  function flag(r) {
    const value = String(r.value); // true -> "true", like normalized_value
    for (const row of document.querySelectorAll(`tr[data-flag="${esc(r.name)}"]`)) {
      const own = r.league === row.dataset.flagLeague;
      if (!own && (r.league || row.dataset.own === "yes")) continue;
      if (own) row.dataset.own = "yes";
      fill(row, { value, source: own ? `set for ${r.league}` : "set for every league" });
      const next = row.dataset.values.split(",").find((v) => v !== value) || value;
      const input = row.querySelector('form[action$="_flag"] input[name="value"]');
      if (input) input.value = next;
      const button = row.querySelector('form[action$="_flag"] button');
      if (button) button.textContent = `Switch to ${next}`;
    }
  }

  // An account row says whether the publisher is paused for it: its latest pause or resume, in the read model's
  // order (requested_at, then control_id); the page's CSS shows the one button that applies.
  function control(r) {
    if (r.action !== "pause" && r.action !== "resume") return;
    const order = `${r.requested_at}|${r.control_id}`;
    for (const row of document.querySelectorAll(`tr[data-account="${esc(r.account)}"]`)) {
      if (row.dataset.control && row.dataset.control >= order) continue;
      row.dataset.control = order;
      fill(row, { publishing: r.action === "pause" ? "paused" : "publishing" });
    }
  }

  function remove(view, key) {
    const selector = `[data-view="${view}"] [data-key="${esc(key)}"], [data-view="${view}"][data-key="${esc(key)}"]`;
    for (const el of document.querySelectorAll(selector)) el.remove();
  }

  // --- charts --------------------------------------------------------------------------------------------
  const charts = {
    wp: new Map(), // game_id -> Chart
    scaling: new Map(), // league -> Chart
    lines: null,
    series: null,
    boot() {
      const lines = document.getElementById("lines");
      const series = document.getElementById("series");
      this.lines = lines ? JSON.parse(lines.textContent) : {};
      this.series = series ? JSON.parse(series.textContent) : {};
      for (const canvas of document.querySelectorAll("canvas[data-wp]")) this.wpChart(canvas);
      for (const canvas of document.querySelectorAll("canvas[data-scaling]")) this.scalingChart(canvas);
    },
    axis(extra) {
      return {
        type: "linear",
        ticks: { maxTicksLimit: 4, color: "#4a5563", callback: (v) => new Date(v).toISOString().slice(11, 16) },
        grid: { display: false },
        ...extra,
      };
    },
    wpChart(canvas) {
      const id = canvas.dataset.wp;
      if (!window.Chart || !id || this.wp.has(id)) return;
      const line = this.lines[id] || { wp: [], tweets: [] };
      const xs = line.wp.map(([x]) => x);
      const span = xs.length ? Math.max(...xs) - Math.min(...xs) : 0;
      const pad = span < 30 * 60000 ? (30 * 60000 - span) / 2 : 0; // a new game's first points: half an hour around
      const chart = new window.Chart(canvas, {
        data: {
          datasets: [
            { type: "line", label: "home win probability", data: line.wp.map(([x, y]) => ({ x, y })),
              borderColor: "#1d4ed8", backgroundColor: "#1d4ed8", borderWidth: 2, pointRadius: 1.5, order: 1 },
            { type: "scatter", label: "tweets", data: line.tweets.filter((t) => t.at)
                .map((t) => ({ x: t.at, y: onLine(line.wp, t.at, t.wp), id: t.command_id, text: t.text })),
              backgroundColor: "#c2410c", borderColor: "#fff", borderWidth: 1, pointRadius: 7, pointStyle: "triangle",
              order: 0 },
          ],
        },
        options: {
          animation: false, maintainAspectRatio: false, parsing: false, normalized: true,
          plugins: { legend: { display: false }, tooltip: { callbacks: {
            label: (c) => (c.raw.text ? c.raw.text.slice(0, 80) : `home ${fmtPct(c.raw.y)}`) } } },
          scales: {
            x: this.axis(xs.length ? { suggestedMin: Math.min(...xs) - pad, suggestedMax: Math.max(...xs) + pad } : {}),
            y: { min: 0, max: 1, ticks: { stepSize: 0.5, color: "#4a5563", callback: (v) => fmtPct(v) } },
          },
        },
      });
      this.wp.set(id, chart);
    },
    scalingChart(canvas) {
      const league = canvas.dataset.scaling;
      if (!window.Chart || this.scaling.has(league)) return;
      const s = this.series[league] || { agents: [], forecast: [], workload: [] };
      const pts = (a) => a.filter(([x, y]) => x && y !== null).map(([x, y]) => ({ x, y }));
      const chart = new window.Chart(canvas, {
        type: "line",
        data: { datasets: [
          { label: "workload", data: pts(s.workload), borderColor: "#1d4ed8", pointRadius: 2, yAxisID: "y" },
          { label: "forecast", data: pts(s.forecast), borderColor: "#c2410c", borderDash: [4, 3], pointRadius: 0,
            yAxisID: "y" },
          { label: "agents", data: pts(s.agents), borderColor: "#15803d", stepped: true, pointRadius: 0, yAxisID: "y1" },
        ] },
        options: {
          animation: false, maintainAspectRatio: false, parsing: false,
          plugins: { legend: { position: "bottom", labels: { boxWidth: 12, color: "#1f2933" } } },
          scales: { x: this.axis(), y: { beginAtZero: true, title: { display: true, text: "load" } },
            y1: { beginAtZero: true, position: "right", grid: { display: false }, title: { display: true, text: "agents" } } },
        },
      });
      this.scaling.set(league, chart);
    },
    push(chart, index, point, dedupe) {
      if (!chart || point.x === null || point.y === null || point.y === undefined) return;
      const data = chart.data.datasets[index].data;
      if (dedupe && data.some(dedupe)) return;
      const last = data[data.length - 1];
      if (last && last.x === point.x) data[data.length - 1] = point;
      else if (!last || point.x > last.x) data.push(point);
      else return;
      if (data.length > 600) data.shift();
      chart.update("none");
    },
    update(view, r) {
      if (view === "games") {
        const card = document.querySelector(`[data-view="games"] [data-key="${esc(r.game_id)}"]`);
        const canvas = card && card.querySelector("canvas");
        if (canvas && !canvas.dataset.wp) canvas.dataset.wp = r.game_id;
        if (canvas) this.wpChart(canvas);
        this.push(this.wp.get(r.game_id), 0, { x: epoch(r.updated_at), y: r.win_prob_home });
      } else if (view === "tweets") {
        const chart = this.wp.get(r.game_id);
        const at = epoch(r.occurred_at);
        const line = chart ? chart.data.datasets[0].data.map((p) => [p.x, p.y]) : [];
        const point = { x: at, y: onLine(line, at, r.win_prob_home), id: r.command_id, text: r.text };
        if (chart && point.y !== null && !chart.data.datasets[1].data.some((p) => p.id === r.command_id)) {
          chart.data.datasets[1].data.push(point);
          chart.update("none");
        }
      } else if (view === "forecasts") {
        const chart = this.scaling.get(r.league);
        this.push(chart, 0, { x: epoch(r.computed_at), y: r.workload });
        this.push(chart, 1, { x: epoch(r.computed_at), y: r.forecast });
      } else if (view === "scaling_history") {
        this.push(this.scaling.get(r.league), 2, { x: epoch(r.decided_at), y: r.agents_after });
      }
    },
  };

  // --- the stream --------------------------------------------------------------------------------------------
  function connect() {
    const views = document.body.dataset.views;
    const status = document.getElementById("live-status");
    const say = (text, cls) => {
      if (!status) return;
      status.textContent = text;
      status.className = `live ${cls}`;
    };
    if (!views) {
      say("static page", "off");
      return;
    }
    const source = new EventSource(`/console/events?views=${encodeURIComponent(views)}`);
    for (const view of views.split(",")) {
      source.addEventListener(view, (e) => apply(view, JSON.parse(e.data)));
      source.addEventListener(`${view}_deleted`, (e) => remove(view, JSON.parse(e.data).key));
    }
    source.addEventListener("ready", () => say("live", "on"));
    source.addEventListener("overflow", () => {
      source.close();
      say("reconnecting\u2026", "off");
      setTimeout(connect, 1000);
    });
    source.onerror = () => say(source.readyState === EventSource.CLOSED ? "disconnected: reload" : "reconnecting\u2026", "off");
  }

  document.addEventListener("DOMContentLoaded", () => {
    charts.boot();
    connect();
  });
})();
