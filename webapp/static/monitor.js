// Opinion monitor: volume, channels, districts, hot topics and surge alerts; refreshed on every store change
// reported by /api/stream, without reloading the page. Charts are ECharts (vendored, static/vendor).
(function () {
  const $ = (id) => document.getElementById(id);
  const charts = {
    volume: echarts.init($("chart-volume")),
    channel: echarts.init($("chart-channel")),
    districts: echarts.init($("chart-districts")),
  };
  window.__charts = charts;  // for the browser test: the series behind each chart
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
  const hourLabel = (h) => h.slice(5, 10) + " " + h.slice(11, 13) + "时";

  const json = Live.json;
  function text(tag, content, className) { const el = document.createElement(tag); el.textContent = content; if (className) el.className = className; return el; }

  const CHANNELS = { hotline: "热线 hotline", web: "网络 web" };
  // A window without tickets says so in each chart, rather than showing bare axes.
  const EMPTY = "该时段无工单 No tickets in this window";
  const emptyTitle = (empty) => ({ show: empty, text: EMPTY, left: "center", top: "middle",
                                   textStyle: { color: "#888", fontSize: 14, fontWeight: "normal" } });

  function lines(chart, hours, series, stacked, empty) {
    chart.setOption({
      title: emptyTitle(empty), tooltip: { trigger: "axis" }, legend: { type: "scroll", top: 0 }, grid: { left: 40, right: 16, top: 40, bottom: 30 },
      xAxis: { type: "category", data: hours.map(hourLabel) }, yAxis: { type: "value", minInterval: 1 },
      series: Object.entries(series).map(([name, data]) => ({ name, type: "line", data, smooth: false, stack: stacked ? "all" : undefined, areaStyle: stacked ? {} : undefined, showSymbol: false })),
    }, true);
  }

  function showMembers(title, members) {
    $("drill").hidden = false;
    $("drill-all").hidden = true;
    $("drill-title").textContent = title;
    const list = $("drill-list");
    list.replaceChildren();
    for (const m of members) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = "/tickets/" + encodeURIComponent(m.ticket_id);
      a.textContent = (m.received_at || "").slice(5, 16).replace("T", " ") + " " + (m.title || m.ticket_id);
      li.append(a);
      if (m.duplicate_of) li.append(text("small", " (近似重复 of " + m.duplicate_of + ")"));
      list.append(li);
    }
    $("drill").scrollIntoView({ block: "nearest" });
  }

  // Drill-down from a chart or an alert: the tickets behind an hour's point (all domains or channels of that
  // hour), a district's bar (the whole window) or a surge alert (the tickets it counted), listed from
  // /api/tickets with the same bounds the figure counted; `href` links them in the ticket list when the
  // filters alone would not name its chip.
  let shown = null;  // the volume figures the charts show now
  async function showTickets(title, counted, filters, href) {
    const p = new URLSearchParams(Object.assign({ limit: "500" }, filters));
    const found = await json("/api/tickets?" + p);
    const seen = found.total === counted ? "" : "，你可查看 " + found.total + " 件 (" + found.total + " visible to you)";
    const listed = found.tickets.length === found.total ? "" : "，列出最新 " + found.tickets.length + " 件 (newest listed)";
    showMembers(title + " · " + counted + " 件" + seen + listed, found.tickets);
    allInList(href || "/tickets?" + new URLSearchParams(filters));
  }
  // all of them, with search, filters and export, in the ticket list
  function allInList(href) {
    $("drill-all").firstElementChild.href = href;
    $("drill-all").hidden = false;
  }
  function drillHour(chart) {
    chart.getZr().on("click", (e) => {
      if (!shown || !chart.containPixel({ gridIndex: 0 }, [e.offsetX, e.offsetY])) return;
      const i = chart.convertFromPixel({ xAxisIndex: 0 }, e.offsetX);
      if (i < 0 || i >= shown.hours.length) return;
      const counted = Object.values(shown.by_channel).reduce((sum, data) => sum + data[i], 0);
      showTickets("来件 " + hourLabel(shown.hours[i]), counted, { start: shown.edges[i], end: shown.edges[i + 1] });
    });
  }
  drillHour(charts.volume);
  drillHour(charts.channel);
  charts.districts.on("click", (e) => {
    if (!shown || e.name === "未知") return;  // no district given: not a filter of the ticket list
    showTickets("区县 " + e.name, e.value, { district: e.name, start: shown.edges[0], end: shown.edges[shown.edges.length - 1] });
  });

  // a slow answer for an earlier window never replaces the figures of a later one (Live.latest)
  const refresh = Live.latest(() => {
    const window_ = $("m-window").value;
    return Promise.all([json("/api/monitor/volume?window=" + window_), json("/api/monitor/topics?window=" + window_),
                        json("/api/monitor/alerts")]);
  }, draw);
  function draw([volume, topics, alerts]) {
    shown = volume;
    $("m-now").textContent = volume.now.slice(0, 16).replace("T", " ");
    $("m-total").textContent = volume.total;
    const empty = volume.total === 0;
    lines(charts.volume, volume.hours, volume.by_domain, true, empty);
    lines(charts.channel, volume.hours,
      Object.fromEntries(Object.entries(volume.by_channel).map(([c, data]) => [CHANNELS[c] || c, data])), false, empty);
    const districts = Object.entries(volume.by_district).slice(0, 12);
    charts.districts.setOption({
      title: emptyTitle(empty), tooltip: {}, grid: { left: 70, right: 16, top: 10, bottom: 20 },
      xAxis: { type: "value", minInterval: 1 }, yAxis: { type: "category", data: districts.map((d) => d[0]).reverse() },
      series: [{ type: "bar", data: districts.map((d) => d[1]).reverse() }],
    }, true);

    const body = document.querySelector("#topics tbody");
    body.replaceChildren();
    for (const t of topics.topics) {
      const tr = document.createElement("tr");
      tr.dataset.topicId = t.topic_id;
      tr.append(text("td", t.heat.toFixed(1), "heat"));
      const label = document.createElement("td");
      const a = document.createElement("a");
      a.href = "#"; a.textContent = t.label;
      a.onclick = (e) => {
        e.preventDefault();
        showMembers("话题 " + t.label, t.members);
        allInList(t.tickets_href);  // every ticket of the topic, not only the window's
      };
      label.append(a);
      tr.append(label, text("td", t.members_in_window), text("td", t.likes), text("td", Object.keys(t.districts).join(" ") || "—"));
      tr.append(text("td", t.trend.map((n) => "▁▂▃▄▅▆▇█"[Math.min(7, n)]).join(""), "trend"));
      body.append(tr);
    }
    if (!topics.topics.length) {
      const td = text("td", "该时段无热点话题 No hot topics in this window", "quiet");
      td.colSpan = 6;
      const tr = document.createElement("tr");
      tr.append(td);
      body.append(tr);
    }

    const list = $("surges");
    list.replaceChildren();
    for (const s of alerts.alerts) {
      const li = document.createElement("li");
      li.dataset.alertId = s.alert_id;
      li.className = s.kind;
      li.append(text("b", (s.kind === "topic_surge" ? "话题突增 " : "突增 ") + (s.label || s.key)));
      li.append(text("div", s.window_end.slice(5, 16).replace("T", " ") + " · 一小时 " + s.observed + " 件，基线 " + s.expected.toFixed(1) + " 件" + (s.assigned_to ? " · 已指派 " + s.assigned_to : "")));
      const look = text("button", "查看 Messages");  // the tickets it counted
      look.onclick = () => showTickets("预警 " + (s.label || s.key), s.observed, { alert: s.alert_id }, s.tickets_href);
      const ack = text("button", "确认 Acknowledge");
      ack.onclick = async () => { await json("/api/monitor/alerts/" + s.alert_id + "/acknowledge", { method: "POST" }); refresh(); };
      const assign = text("button", "指派 Assign");
      assign.onclick = () => openAssign(s);
      li.append(look);
      if (list.dataset.canHandle === "yes") li.append(ack, assign);  // the monitor permission (config/users.yaml)
      list.append(li);
    }
    if (!alerts.alerts.length) list.append(text("li", "无未确认预警 No open alerts", "quiet"));
  }

  // the assign dialog (for roles with the monitor permission): a unit from the list, or anyone named
  let assigning = null;
  function openAssign(alert) {
    assigning = alert;
    $("assign-key").textContent = alert.label || alert.key;
    $("assign-to").value = alert.assigned_to || "";
    $("assign-error").textContent = "";
    $("assign").showModal();
  }
  if ($("assign")) {
    $("assign-cancel").addEventListener("click", () => $("assign").close());
    $("assign-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await json("/api/monitor/alerts/" + encodeURIComponent(assigning.alert_id) + "/assign", { method: "POST",
          headers: { "Content-Type": "application/json" }, body: JSON.stringify({ to: $("assign-to").value.trim() }) });
        $("assign").close();
        refresh();
      } catch (error) { $("assign-error").textContent = error.message; }
    });
  }

  $("m-window").addEventListener("change", refresh);
  let pending = null;
  const later = () => { clearTimeout(pending); pending = setTimeout(refresh, 300); };
  const source = new EventSource("/api/stream");
  source.addEventListener("hello", () => { $("live").classList.add("on"); refresh(); });
  source.addEventListener("tickets", later);
  source.onerror = () => $("live").classList.remove("on");
  refresh();
})();
