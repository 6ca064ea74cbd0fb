// Callback worklist (回访): the replied tickets whose callback is due, earliest due first. Call the citizen, then
// record the satisfaction (1-3) or a call nobody answered (4); a dissatisfied citizen's reason goes to the unit.
(function () {
  const $ = (id) => document.getElementById(id);
  const list = $("cb-list"), detail = $("cb-detail"), empty = $("cb-empty"), result = $("cb-result");
  const reason = $("cb-reason");
  let items = [], index = 0, selectedId = null;
  const recorded = new Map();  // ticket id -> the callback_attempts it had when a result was sent for it
  const day = (iso) => iso ? iso.slice(0, 16).replace("T", " ") : "—";

  const load = Live.latest(() => Live.json("/api/callbacks"), draw);
  function draw(data) {
    // a result sent but not yet applied by a worker keeps its ticket out of the list until the list changes for it
    items = data.tickets.filter((t) => !(recorded.has(t.ticket_id) && recorded.get(t.ticket_id) === t.callback_attempts));
    $("cb-count").textContent = "(" + data.total + (data.overdue ? "，超期 " + data.overdue + " overdue" : "") + ")";
    list.replaceChildren(...items.map((t, i) => {
      const li = document.createElement("li");
      li.dataset.ticketId = t.ticket_id;
      li.textContent = (t.overdue ? "超期 " : "") + (t.callback_attempts ? "未接通×" + t.callback_attempts + " " : "")
        + (t.title || "(无标题)") + " · " + t.lead_unit_name;
      li.onclick = () => select(i);
      return li;
    }));
    empty.hidden = items.length > 0;
    detail.hidden = items.length === 0;
    const kept = items.findIndex((t) => t.ticket_id === selectedId);
    if (kept >= 0) markSelected(kept);
    else if (items.length) select(Math.min(index, items.length - 1));
  }

  function markSelected(i) {
    index = i;
    [...list.children].forEach((li, k) => li.classList.toggle("selected", k === i));
  }

  function select(i) {
    markSelected(i);
    const t = items[i];
    if (selectedId !== t.ticket_id) reason.value = "";
    selectedId = t.ticket_id;
    $("cb-title").textContent = t.title || "(无标题)";
    $("cb-meta").textContent = [t.ticket_id, t.channel, "受理 " + day(t.received_at), t.district].filter(Boolean).join(" · ");
    $("cb-caller").textContent = "来电人 Caller: " + (t.caller || "—") + " · 电话 Phone: " + (t.phones.join("、") || "—");
    // the callers of the tickets merged into this one (并单) are owed the same answer: call them too
    $("cb-merged").hidden = !t.merged.length;
    $("cb-merged").textContent = "并入本件 " + t.merged.length + " 件，同告知本答复 also call (merged here): "
      + t.merged.map((m) => (m.caller || m.ticket_id) + " " + (m.phones.join("、") || "—")).join("；");
    $("cb-due").textContent = (t.overdue ? "已超期 overdue · " : "") + "回访期限 call back by " + day(t.callback_due)
      + (t.callback_attempts ? " · 已未接通 " + t.callback_attempts + " 次 calls not answered" : "");
    $("cb-due").className = t.overdue ? "overdue" : "";
    $("cb-replied").textContent = t.lead_unit_name + " · " + day(t.replied_at) + (t.on_time === false ? " · 超期答复 late" : "")
      + (t.reopened ? " · 重办 " + t.reopened + " 次" : "");
    $("cb-reply").textContent = t.reply || "—";
    $("cb-text").textContent = t.text;
    $("cb-link").href = "/tickets/" + encodeURIComponent(t.ticket_id);
  }

  async function record(kind, data) {
    const t = items[index];
    if (!t) return;
    const note = reason.value.trim();
    if (note) data.reason = note;
    try {
      await Live.json("/api/tickets/" + encodeURIComponent(t.ticket_id) + "/events", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ kind, data }),
      });
      recorded.set(t.ticket_id, t.callback_attempts);
      reason.value = "";
      await load();  // the next ticket is shown: say what became of this one
      result.textContent = "已记录 recorded: " + t.ticket_id + " · " + (kind === "callback" ? "回访 " + data.satisfaction : "未接通 no answer");
    } catch (e) { result.textContent = e.message; }
  }

  document.querySelectorAll("#cb-actions button").forEach((b) => {
    b.onclick = () => b.dataset.failed ? record("callback_failed", {}) : record("callback", { satisfaction: b.dataset.satisfaction });
  });
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT") { if (e.key === "Escape") e.target.blur(); return; }
    if (e.key === "j" || e.key === "ArrowDown") { e.preventDefault(); if (index < items.length - 1) select(index + 1); }
    else if (e.key === "k" || e.key === "ArrowUp") { e.preventDefault(); if (index > 0) select(index - 1); }
    else if (["1", "2", "3"].includes(e.key)) { e.preventDefault(); record("callback", { satisfaction: ["满意", "基本满意", "不满意"][Number(e.key) - 1] }); }
    else if (e.key === "4") { e.preventDefault(); record("callback_failed", {}); }
    else if (e.key === "r") { e.preventDefault(); reason.focus(); }
  });

  load();
  const source = new EventSource("/api/stream");
  source.addEventListener("hello", load);
  source.addEventListener("tickets", load);
})();
