// Ticket list: fetches /api/tickets with the current search and filters, and refreshes
// whenever /api/stream reports new tickets; rows that arrived since the last view are marked. The filters'
// choices and counts (/api/facets) are refreshed with the list and count among the tickets its search and other
// filters select: a choice's count is the number of tickets choosing it lists.
(function () {
  const rows = document.getElementById("rows");
  const total = document.getElementById("total");
  const live = document.getElementById("live");
  const form = document.getElementById("filters");
  const names = JSON.parse(document.getElementById("filter-names").textContent);
  let seenSeq = null;
  // Filters given in the address (drill-down links such as /tickets?lead_unit=housing) start selected. A start
  // or end that is a moment, not a day (the monitor's links: an hour, a window), is a period shown as a filter
  // that can be taken off; choosing a day takes it off too.
  const address = new URLSearchParams(location.search);
  let period = ["start", "end"].some((k) => (address.get(k) || "").includes("T"))
    ? { start: address.get("start"), end: address.get("end") } : null;
  for (const [name, value] of address) if (form.elements[name] && !(period && name in period)) form.elements[name].value = value;
  const periodChip = document.getElementById("period");
  function showPeriod() {
    periodChip.hidden = !period;
    const at = (moment) => (moment || "…").slice(0, 16).replace("T", " ");
    periodChip.querySelector("b").textContent = period ? at(period.start) + " – " + at(period.end) : "";
  }
  periodChip.querySelector("button").addEventListener("click", () => { period = null; showPeriod(); restart(); });
  for (const name of ["start", "end"]) form.elements[name].addEventListener("input", () => { period = null; showPeriod(); });
  showPeriod();
  // Filters that only links set, each shown as a chip that can be taken off: held_by (the supervision rows'
  // links: the tickets a unit answers for now), topic (the monitor's and the ticket page's: an opinion
  // topic's tickets, named by the link's topic_label), alert (the monitor's: the tickets a surge alert
  // counted, named by the link's alert_label), merged_into (a ticket page's: the tickets merged into it),
  // overdue (the supervision page's 超期 cells: open tickets past their reply deadline now),
  // awaiting_callback (the callback worklist's and the supervision page's 待回访 cells: replied tickets whose
  // callback is due), callback_given_up (the supervision page's 无法回访 cells) and the flags of its other
  // counts: accepted_late, replied, called_back, reopened, urged, open, returned, returned_by (a unit: the
  // tickets it returned) and accepted_late_by (a unit: the tickets it was late to accept, now or before they
  // left it).
  function linkedFilter(name, chipId, named) {
    const chip = document.getElementById(chipId);
    const show = () => {
      const value = form.elements[name].value;
      chip.hidden = !value;
      chip.querySelector("b").textContent = value ? named(value) : "";
    };
    chip.querySelector("button").addEventListener("click", () => { form.elements[name].value = ""; show(); restart(); });
    show();
  }
  linkedFilter("held_by", "held-by", (unit) => (names.lead_unit || {})[unit] || unit);
  linkedFilter("topic", "topic-chip", (topic) => address.get("topic_label") || topic);
  linkedFilter("alert", "alert-chip", (alert) => address.get("alert_label") || alert);
  linkedFilter("merged_into", "merged-chip", (ticketId) => ticketId);
  linkedFilter("overdue", "overdue-chip", () => "未办结且过答复期限 open, past the reply deadline");
  linkedFilter("awaiting_callback", "callback-chip", () => "已答复，待回访 replied, callback due");
  linkedFilter("callback_given_up", "given-up-chip", () => "多次未接通，已放弃回访 calls not answered, given up");
  linkedFilter("accepted_late", "accepted_late-chip", () => "签收晚于时限或超时未签收 accepted late, or not yet and past the deadline");
  linkedFilter("replied", "replied-chip", () => "已答复过 replied once or more");
  linkedFilter("called_back", "called_back-chip", () => "已记录回访满意度 a satisfaction recorded");
  linkedFilter("reopened", "reopened-chip", () => "重办过 reopened once or more");
  linkedFilter("urged", "urged-chip", () => "被催办过 urged on once or more");
  linkedFilter("open", "open-chip", () => "未答复、未办结、未并单 not yet replied, closed or merged");
  linkedFilter("returned", "returned-chip", () => "退单过 returned once or more");
  linkedFilter("returned_by", "returned_by-chip", (unit) => (names.lead_unit || {})[unit] || unit);
  linkedFilter("accepted_late_by", "accepted_late_by-chip", (unit) => (names.lead_unit || {})[unit] || unit);

  function filters() {
    const p = new URLSearchParams();
    for (const el of form.elements) if (el.name && el.value) p.set(el.name, el.value);
    if (period) for (const [name, value] of Object.entries(period)) if (value) p.set(name, value);
    return p;
  }
  // the list a page (PAGE tickets) at a time, newest first, earliest reply deadline first (a unit's to-do
  // list: its open tickets by deadline), earliest acceptance deadline first (with the 已派单 status: what it
  // has to accept) or earliest callback deadline first (as the address may say); a change of filters or order
  // goes back to the first page
  const PAGE = 100, order = document.getElementById("order");
  if ([...order.options].some((o) => o.value === address.get("order"))) order.value = address.get("order");
  let page = 0;
  function params() {
    const p = filters();
    p.set("limit", String(PAGE));
    p.set("offset", String(page * PAGE));
    p.set("order", order.value);
    return p;
  }
  function restart() { page = 0; refresh(); }  // other tickets: from their first page
  order.addEventListener("change", restart);
  document.getElementById("prev").addEventListener("click", () => { page = Math.max(0, page - 1); refresh(); });
  document.getElementById("next").addEventListener("click", () => { page += 1; refresh(); });

  // Each filter keeps its label (the first option) and its chosen value, even one no ticket has any more; one
  // being chosen from (it has the focus) is left as it is until the next refresh.
  function showFacets(facets) {
    for (const select of form.querySelectorAll("select")) {
      if (select === document.activeElement) continue;
      const counts = Object.assign({}, facets[select.name] || {});
      const chosen = select.value;
      if (chosen && !(chosen in counts)) counts[chosen] = 0;
      // "" (no value, e.g. the unit of a ticket merged before it was dispatched) cannot be chosen apart from "all"
      const options = Object.entries(counts).filter(([value]) => value !== "").map(([value, count]) => {
        const option = document.createElement("option");
        option.value = value;
        option.textContent = ((names[select.name] || {})[value] || value) + " (" + count + ")";
        return option;
      });
      select.replaceChildren(select.options[0], ...options);
      select.value = chosen;
    }
  }

  function cell(text) { const td = document.createElement("td"); td.textContent = text == null ? "—" : text; return td; }

  // a slow answer to an earlier search never replaces the list of a later one (Live.latest)
  const refresh = Live.latest(
    () => Promise.all([Live.json("/api/tickets?" + params().toString()), Live.json("/api/facets?" + filters())]),
    draw);
  function draw([data, facets]) {
    showFacets(facets);
    if (!data.tickets.length && page > 0) {  // fewer tickets now than the page shown: its last page instead
      page = Math.max(0, Math.ceil(data.total / PAGE) - 1);
      refresh();
      return;
    }
    total.textContent = data.total + " 条工单 tickets";
    const first = page * PAGE;
    document.getElementById("shown").textContent = data.total ? (first + 1) + "–" + (first + data.tickets.length) : "";
    document.getElementById("prev").disabled = page === 0;
    document.getElementById("next").disabled = first + data.tickets.length >= data.total;
    document.getElementById("export").href = "/api/tickets/export?" + filters();  // all of them, not only those shown
    rows.replaceChildren();
    const byCallback = order.value === "callback", byAcceptance = order.value === "accept";
    document.getElementById("due-head").textContent = byCallback ? "回访期限 Call back by"
      : byAcceptance ? "签收时限 Accept by" : "答复时限 Reply by";
    for (const t of data.tickets) {
      const tr = document.createElement("tr");
      tr.dataset.ticketId = t.ticket_id;
      if (seenSeq !== null && t.seq > seenSeq) tr.className = "new";
      tr.append(cell(t.received_at.slice(0, 16).replace("T", " ")), cell(t.channel === "hotline" ? "热线" : "网络"));
      const title = document.createElement("td");
      const a = document.createElement("a");
      a.href = "/tickets/" + encodeURIComponent(t.ticket_id);
      a.textContent = t.title || "(无标题)";
      title.append(a);
      if (t.urged) {  // a supervisor urged the unit on (催办), so many times
        const urged = document.createElement("span");
        urged.className = "urged flag";
        urged.textContent = " 催办×" + t.urged;
        title.append(urged);
      }
      tr.append(title, cell(t.district), cell(t.ticket_type), cell(t.domain + " " + t.confidence.toFixed(2)));
      // the deadline the list is ordered by: the reply's, in acceptance order the acceptance's (签收), or in
      // callback order the callback's (回访); past it by the centre's clock, and not done, it says so
      const at = (iso) => iso.slice(0, 16).replace("T", " ");
      const late = byCallback ? false : byAcceptance ? t.accept_overdue : t.overdue;
      const due = byCallback ? cell(t.callback_due ? at(t.callback_due) : null)
        : byAcceptance ? cell(t.accept_due ? (late ? "超时未签收 " : "") + at(t.accept_due) : null)
        : cell(t.reply_due ? (late ? "超期 " : "") + at(t.reply_due) : null);
      if (late) due.className = "overdue";
      // a ticket waiting for a dispatcher is with no unit yet: the one shown is the suggestion
      tr.append(cell((t.lead_unit_name || t.lead_unit || "—") + (t.status === "pending_review" ? "（建议 suggested）" : "")), due);
      const status = cell(t.status_name); status.className = "badge " + t.status; tr.append(status);
      rows.append(tr);
    }
    seenSeq = data.latest_seq;
  }

  let timer = null;
  form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(restart, 250); });
  refresh();

  const source = new EventSource("/api/stream");
  // "hello" comes when the stream has taken its starting point: whatever was stored between the first
  // load and then is caught by this refresh, whatever comes later by a "tickets" event.
  source.addEventListener("hello", refresh);
  source.addEventListener("tickets", refresh);
  source.onopen = () => live.classList.add("on");
  source.onerror = () => live.classList.remove("on");
})();
