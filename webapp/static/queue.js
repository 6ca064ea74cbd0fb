// Dispatcher queue: pick a waiting ticket, confirm or correct its domain and unit, dispatch (or merge a near-copy).
// Keyboard: j/k or arrows move, 1-3 choose one of the suggested domains, u focuses the unit, Enter dispatches,
// m merges a near-copy into the earlier ticket.
(function () {
  const list = document.getElementById("queue-list");
  const detail = document.getElementById("queue-detail");
  const empty = document.getElementById("queue-empty");
  const domainSelect = document.getElementById("q-domain");
  const unitSelect = document.getElementById("q-unit");
  const result = document.getElementById("q-result");
  let items = [], index = 0, selectedId = null, sent = new Set();

  const $ = (id) => document.getElementById(id);
  const json = Live.json;

  // a slow answer never brings back a ticket that a later one no longer lists, dispatched by someone else
  // meanwhile (Live.latest)
  const load = Live.latest(() => json("/api/queue"), draw);
  function draw(data) {
    items = data.tickets.filter((t) => !sent.has(t.ticket_id));
    $("queue-count").textContent = "(" + items.length + ")";
    list.replaceChildren();
    items.forEach((t, i) => {
      const li = document.createElement("li");
      li.dataset.ticketId = t.ticket_id;
      li.textContent = (t.flagged ? "⚑ " : "") + (t.overdue ? "超期 " : "") + (t.near_copy_of ? "重复 " : "") + (t.title || "(无标题)") + " · " + t.domain + " " + t.confidence.toFixed(2);
      li.onclick = () => select(i);
      list.append(li);
    });
    empty.hidden = items.length > 0;
    detail.hidden = items.length === 0;
    // Keep the ticket the dispatcher is looking at when the list reloads; else the same place in the list.
    const kept = items.findIndex((t) => t.ticket_id === selectedId);
    if (kept >= 0) markSelected(kept);
    else if (items.length) select(Math.min(index, items.length - 1));
  }

  async function suggest(domain) {
    const t = items[index];
    domainSelect.value = domain;
    document.querySelectorAll("#q-domains button").forEach((b) => b.classList.toggle("chosen", b.dataset.domain === domain));
    const s = await json("/api/tickets/" + encodeURIComponent(t.ticket_id) + "/suggest?domain=" + encodeURIComponent(domain));
    unitSelect.value = s.lead_unit;
    $("q-explain").textContent = "建议 Suggested: " + s.lead_unit_name + " (rule " + s.rule_id + ")";
  }

  function markSelected(i) {
    index = i;
    [...list.children].forEach((li, k) => li.classList.toggle("selected", k === i));
  }

  async function select(i) {
    markSelected(i);
    const t = items[i];
    selectedId = t.ticket_id;
    $("q-title").textContent = t.title || "(无标题)";
    $("q-meta").textContent = [t.ticket_id, t.channel, t.received_at.slice(0, 16).replace("T", " "), t.district, t.ticket_type].filter(Boolean).join(" · ");
    $("q-text").textContent = t.text;
    $("q-flag").hidden = !t.flagged; $("q-flag").textContent = t.flagged || "";
    // the reply deadline runs while the ticket waits here: once past it, the alerts go to the dispatchers
    $("q-due").textContent = t.reply_due ? (t.overdue ? "已超期 overdue · " : "") + "答复期限 reply by " + t.reply_due.slice(0, 16).replace("T", " ") : "";
    $("q-due").className = t.overdue ? "overdue" : "";
    $("q-returned").hidden = !t.last_return_reason;
    $("q-returned").textContent = "退单 " + t.returns + " 次（" + t.returned_by_names.join("、") + "），理由 Returned: " + (t.last_return_reason || "");
    const domains = $("q-domains");
    domains.replaceChildren();
    t.top.forEach(([domain, p], k) => {
      const b = document.createElement("button");
      b.dataset.domain = domain;
      b.textContent = (k + 1) + " " + domain + " " + p.toFixed(2);
      b.onclick = () => suggest(domain);
      domains.append(b);
    });
    result.textContent = "";
    domainSelect.value = t.domain; unitSelect.value = t.lead_unit;
    $("q-explain").textContent = t.routing_explanation;
    document.querySelectorAll("#q-domains button").forEach((b) => b.classList.toggle("chosen", b.dataset.domain === t.domain));
    showCopy(null);  // until this ticket's own answer comes: nothing acts on another ticket's original or topic
    showWaiting(null, 0);
    showTopic(t.ticket_id);
    const similar = await json("/api/tickets/" + encodeURIComponent(t.ticket_id) + "/similar");
    $("q-similar").replaceChildren(...similar.tickets.map((s) => {
      // when it came and a link to it, so that past tickets with the same title can be told apart and opened
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = "/tickets/" + encodeURIComponent(s.ticket_id);
      a.target = "_blank";
      a.textContent = s.title || s.ticket_id;
      li.append(s.received_at.slice(0, 16).replace("T", " ") + " ", a, " → " + s.lead_unit_name + " (" + s.domain + ")");
      return li;
    }));
  }

  // A breaking issue brings many tickets at once: those of the topic still waiting can all go to the chosen
  // unit together (批量派单).
  let topicWaiting = null;
  function showWaiting(topic, waiting) {
    topicWaiting = topic && waiting > 1 ? topic : null;
    $("q-topic-waiting").hidden = !topicWaiting;
    $("q-topic-all").textContent = "本话题 " + waiting + " 件待派单全部派给所选单位 Dispatch all " + waiting + " waiting to the chosen unit";
  }

  // The opinion topic the ticket belongs to (the same issue, however worded) and the units its other tickets
  // went to, each a button that chooses that unit: one issue's tickets are best handled by one unit.
  async function showTopic(ticketId) {
    const { topic, dispatched, merge_into, waiting } = await json("/api/tickets/" + encodeURIComponent(ticketId) + "/topic");
    if (ticketId !== selectedId) return;  // another ticket was chosen meanwhile
    showCopy(merge_into);
    $("q-topic").hidden = !topic;
    if (!topic) return;
    showWaiting(topic, waiting);
    const link = $("q-topic-link");
    link.href = topic.tickets_href;
    link.target = "_blank";
    link.textContent = topic.label + " · " + topic.size + " 件";
    $("q-topic-went").replaceChildren(...(dispatched.length ? ["已派 went to: "] : ["其他工单尚未派出 none dispatched yet"]),
      ...dispatched.map((d) => {
        const b = document.createElement("button");
        b.dataset.unit = d.lead_unit;
        b.textContent = d.lead_unit_name + " ×" + d.tickets;
        b.onclick = () => { unitSelect.value = d.lead_unit; };
        return b;
      }));
  }

  // A near-copy of an earlier ticket (重复件: the same text again) is merged into it (并单) rather than
  // dispatched a second time: the earlier ticket's unit answers both.
  let mergeInto = null;
  function showCopy(target) {
    mergeInto = target ? target.ticket_id : null;
    $("q-copy").hidden = !target;
    if (!target) return;
    const link = $("q-copy-link");
    link.href = "/tickets/" + encodeURIComponent(target.ticket_id);
    link.textContent = target.title || target.ticket_id;
    $("q-copy-state").textContent = "(" + [target.received_at.slice(0, 16).replace("T", " "), target.status_name, target.holder_name].filter(Boolean).join(" · ") + ")";
  }

  async function merge() {
    const t = items[index], into = mergeInto;
    if (!t || !into) return;
    try {
      await json("/api/tickets/" + encodeURIComponent(t.ticket_id) + "/events", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ kind: "merged", data: { into } }),
      });
      sent.add(t.ticket_id);
      await load();  // the next ticket is shown: say what became of this one
      result.textContent = "已并单 merged: " + t.ticket_id + " → " + into;
    } catch (e) { result.textContent = e.message; }
  }

  async function dispatchTopic() {
    const topic = topicWaiting, unit = unitSelect.selectedOptions[0].textContent;
    if (!topic || !confirm("本话题待派单全部派给 " + unit + "？ Dispatch every waiting ticket of this issue to " + unit + "?")) return;
    try {
      const done = await json("/api/topics/" + encodeURIComponent(topic.topic_id) + "/dispatch", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ lead_unit: unitSelect.value }),
      });
      done.dispatched.forEach((e) => sent.add(e.ticket_id));
      await load();
      result.textContent = "已批量派单 dispatched " + done.dispatched.length + " → " + unit
        + (done.refused.length ? "；" + done.refused.length + " 件未派 not sent: " + done.refused.map((r) => r.ticket_id + " " + r.reason).join("; ") : "");
    } catch (e) { result.textContent = e.message; }
  }

  async function dispatch() {
    const t = items[index], unit = unitSelect.selectedOptions[0].textContent;
    if (!t) return;
    try {
      await json("/api/tickets/" + encodeURIComponent(t.ticket_id) + "/dispatch", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ domain: domainSelect.value, lead_unit: unitSelect.value }),
      });
      sent.add(t.ticket_id);
      await load();  // the next ticket is shown: say what became of this one
      result.textContent = "已派单 dispatched: " + t.ticket_id + " → " + unit;
    } catch (e) { result.textContent = e.message; }
  }

  domainSelect.onchange = () => suggest(domainSelect.value);
  $("q-dispatch").onclick = dispatch;
  $("q-merge").onclick = merge;
  $("q-topic-all").onclick = dispatchTopic;
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT") return;
    if (e.target.tagName === "SELECT" && e.key !== "Enter") return;
    if (e.key === "j" || e.key === "ArrowDown") { e.preventDefault(); if (index < items.length - 1) select(index + 1); }
    else if (e.key === "k" || e.key === "ArrowUp") { e.preventDefault(); if (index > 0) select(index - 1); }
    else if (["1", "2", "3"].includes(e.key)) { const t = items[index]; const pick = t && t.top[Number(e.key) - 1]; if (pick) suggest(pick[0]); }
    else if (e.key === "u") { e.preventDefault(); unitSelect.focus(); }
    else if (e.key === "Enter") { e.preventDefault(); dispatch(); }
    else if (e.key === "m") { e.preventDefault(); merge(); }
  });

  load();
  const source = new EventSource("/api/stream");
  source.addEventListener("hello", load);  // catches changes between the first load and the stream's start
  source.addEventListener("tickets", load);
})();
