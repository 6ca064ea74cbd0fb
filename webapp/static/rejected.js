// Dead letters: a record corrected in the dialog is sent again (POST /api/rejections/{id}/resend); the server
// checks it as a worker would, so a mistake left in it is shown here and nothing is sent.
(function () {
  const dialog = document.getElementById("fix");
  const record = document.getElementById("fix-record");
  const error = document.getElementById("fix-error");
  let row = null;

  // The record as it came, laid out for editing; a payload that is not a JSON object becomes the text of an
  // otherwise empty record (a binary one, not shown here, leaves it empty).
  function editable(payload) {
    try {
      const parsed = JSON.parse(payload);
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return JSON.stringify(parsed, null, 2);
    } catch (e) { /* not JSON */ }
    return JSON.stringify({ id: "", title: "", text: payload || "", time: "" }, null, 2);
  }

  // the whole payload is fetched when asked for (the page lists up to 500 dead letters of up to 64 KiB)
  for (const button of document.querySelectorAll("button.fix")) {
    button.addEventListener("click", async () => {
      row = button.closest("tr");
      const letter = await Live.json("/api/rejections/" + encodeURIComponent(row.dataset.rejectionId));
      document.getElementById("fix-channel").textContent = letter.channel;
      document.getElementById("fix-reason").textContent = letter.reason;
      record.value = editable(letter.payload_encoding === "utf-8" ? letter.payload : "");
      error.textContent = "";
      dialog.showModal();
      record.focus();
    });
  }
  document.getElementById("fix-cancel").addEventListener("click", () => dialog.close());

  document.getElementById("fix-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    let body;
    try {
      body = JSON.parse(record.value);
    } catch (e) {
      error.textContent = "不是有效的 JSON Not valid JSON: " + e.message;
      return;
    }
    try {
      const sent = await Live.json("/api/rejections/" + encodeURIComponent(row.dataset.rejectionId) + "/resend", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      const cell = row.querySelector("td.resend");
      const link = document.createElement("a");
      link.href = "/tickets/" + encodeURIComponent(sent.ticket_id);
      link.textContent = sent.ticket_id;
      cell.replaceChildren("已重发 Resent as ", link);
      dialog.close();
    } catch (e) {
      error.textContent = e.message;
    }
  });
})();
