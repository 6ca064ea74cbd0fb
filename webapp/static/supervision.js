// Supervision: unit figures, overdue and due-soon tickets, open alerts; refreshed whenever the store changes.
(function () {
  const form = document.getElementById("s-filters");
  const $ = (id) => document.getElementById(id);
  const pct = (v) => (v == null ? "—" : (v * 100).toFixed(1) + "%");
  const num = (v) => (v == null ? "—" : String(v));
  const when = (iso) => iso.slice(0, 16).replace("T", " ");

  function query() {
    const p = new URLSearchParams();
    for (const el of form.elements) if (el.name && el.value) p.set(el.name, el.value);
    return p;
  }
  function cell(content, className) {
    const td = document.createElement("td");
    if (content instanceof Node) td.append(content); else td.textContent = content;
    if (className) td.className = className;
    return td;
  }
  function link(text, href) { const a = document.createElement("a"); a.href = href; a.textContent = text; return a; }
  // a count (or a rate) that links to the tickets it counts, when there are some; marked when not 0
  function counted(value, href, className, text) {
    const shown = text === undefined ? num(value) : text;
    return cell(value && href ? link(shown, href) : shown, value && className ? className : "");
  }

  const json = Live.json;
  const ALERTS = 200;  // open alerts shown at most, newest first; the page says when there are more
  const ALERT_KINDS = { due_soon: "临期预警", accept_overdue: "签收超时", urged: "催办" };  // overdue: by level

  // each refresh fetches all it shows before it changes the page, so tables are never filled twice or with
  // older figures (Live.latest)
  const refresh = Live.latest(() => {
    const p = query();
    const alerts = new URLSearchParams({ open: "true", limit: String(ALERTS) });
    if ($("alerts-to").value) alerts.set("to", $("alerts-to").value);
    return Promise.all([json("/api/supervision?" + p), json("/api/alerts?" + alerts), p]);
  }, draw);
  function draw([data, open, p]) {
    $("export-csv").href = "/api/supervision/export?format=csv&" + p;
    $("export-xlsx").href = "/api/supervision/export?format=xlsx&" + p;
    if ($("export-archive")) $("export-archive").href = "/api/supervision/archive?" + p;
    $("s-now").textContent = when(data.now);
    $("calendar-notice").hidden = !data.calendar_notice;
    $("calendar-notice").textContent = data.calendar_notice || "";
    const units = document.querySelector("#units tbody");
    units.replaceChildren();
    for (const u of data.total ? [...data.units, data.total] : data.units) {
      const tr = document.createElement("tr");
      tr.dataset.unit = u.unit;
      const name = u.unit === "all" ? u.unit_name : link(u.unit_name, u.tickets_href);
      tr.append(cell(name), counted(u.tickets, u.tickets_href), cell(pct(u.accept_on_time_rate)),
        counted(u.accepted_late, u.accepted_late_href), counted(u.replied, u.replied_href),
        cell(pct(u.on_time_rate)), cell(num(u.median_reply_working_days)), cell(num(u.p90_reply_working_days)),
        cell(pct(u.satisfaction_rate)), counted(u.callbacks, u.callbacks_href), cell(pct(u.callback_rate)),
        counted(u.callback_given_up, u.callback_given_up_href), counted(u.awaiting_callback, u.awaiting_callback_href),
        counted(u.returned, u.returned_href, "", pct(u.returned_rate)), counted(u.reopened, u.reopened_href),
        counted(u.urged, u.urged_href), counted(u.open, u.open_href), counted(u.overdue_open, u.overdue_open_href, "overdue"));
      if (u.unit === "all") tr.className = "total";
      units.append(tr);
    }
    const late = document.querySelector("#late tbody");
    late.replaceChildren();
    for (const t of data.late) {
      const tr = document.createElement("tr");
      tr.dataset.ticketId = t.ticket_id;
      tr.className = t.level;
      const urged = cell(t.urged ? t.urged + " 次 " : "");
      if (urgeForm && t.urgeable) {  // supervisors urge the unit a ticket is with on (催办)
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = "催办 Urge";
        button.onclick = () => urge(t);
        urged.append(button);
      }
      tr.append(cell(t.unit_name), cell(link(t.title || t.ticket_id, "/tickets/" + encodeURIComponent(t.ticket_id))),
        cell(t.status_name), cell(when(t.reply_due)),
        cell(t.level === "overdue" ? "超期 " + (t.late_working_days > 0 ? t.late_working_days : "<0.01")
                                   : "临期，剩余 " + (-t.late_working_days), "late"), urged);
      late.append(tr);
    }
    $("late-count").textContent = "(" + data.late.filter((t) => t.level === "overdue").length + " 超期, "
      + data.late.filter((t) => t.level === "due_soon").length + " 临期)";
    $("alerts-count").textContent = open.more
      ? "最新 " + ALERTS + " 条，另有更多 the newest " + ALERTS + " of more (按通知对象筛选 choose a recipient; hotline alerts lists all)"
      : open.alerts.length + " 条";
    const alerts = document.querySelector("#alerts tbody");
    alerts.replaceChildren();
    for (const a of open.alerts) {
      const tr = document.createElement("tr");
      tr.dataset.alertId = a.alert_id;
      tr.className = a.kind;
      const ack = document.createElement("button");  // supervisors and dispatchers acknowledge; a unit reads
      ack.textContent = "确认 Acknowledge";
      ack.hidden = !form.dataset.acknowledge;
      ack.onclick = async () => { await json("/api/alerts/" + a.alert_id + "/acknowledge", { method: "POST" }); refresh(); };
      tr.append(cell(when(a.raised_at)), cell(ALERT_KINDS[a.kind] || "超期 " + a.level + " 级", "late"), cell(a.to),
        cell(a.unit_name), cell(link(a.title || a.ticket_id, "/tickets/" + encodeURIComponent(a.ticket_id))),
        cell(a.message), cell(ack));
      alerts.append(tr);
    }
  }

  // 催办: the form below the late tickets (outside the table, which live refreshes redraw) sends an `urged`
  // event with what is asked; the count shows once a worker has applied it
  const urgeForm = $("urge-form");
  function urge(t) {
    urgeForm.dataset.ticketId = t.ticket_id;
    $("urge-ticket").textContent = t.title || t.ticket_id;
    $("urge-ticket").href = "/tickets/" + encodeURIComponent(t.ticket_id);
    $("urge-result").textContent = "";
    urgeForm.hidden = false;
    $("urge-reason").focus();
  }
  if (urgeForm) {
    $("urge-cancel").onclick = () => { urgeForm.hidden = true; };
    urgeForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const ticketId = urgeForm.dataset.ticketId, title = $("urge-ticket").textContent;
      try {
        await json("/api/tickets/" + encodeURIComponent(ticketId) + "/events", { method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ kind: "urged", data: { reason: $("urge-reason").value.trim() } }) });
        urgeForm.hidden = true;
        $("urge-reason").value = "";
        $("urge-result").textContent = "已催办 urged: " + title;
      } catch (error) { $("urge-result").textContent = error.message; }
    });
  }

  form.addEventListener("change", refresh);
  $("alerts-to").addEventListener("change", refresh);
  const source = new EventSource("/api/stream");
  source.addEventListener("hello", () => { $("live").classList.add("on"); refresh(); });
  source.addEventListener("tickets", refresh);
  source.onerror = () => $("live").classList.remove("on");
  refresh();
})();
