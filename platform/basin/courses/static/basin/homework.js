// The homework page's live parts: upload with a progress bar, the submission history polled
// while anything is waiting, the final selection and the quota. All through the REST API with
// the page's session; every text from the server is set as text, never as HTML.
(function () {
  "use strict";
  const page = JSON.parse(document.getElementById("homework-page").textContent);
  const csrf = document.querySelector("#upload-form [name=csrfmiddlewaretoken]").value;
  const $ = (id) => document.getElementById(id);
  const WAITING = ["received", "queued", "running"];
  let submissions = page.submissions;
  let quota = page.quota;
  let pollTimer = null;
  let selectionDirty = false;

  const localTime = window.basinLocalTime;

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  async function api(url, options) {
    const response = await fetch(url, Object.assign({ credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "Accept": "application/json", "Content-Type": "application/json" } }, options));
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new Error(errorText(response.status, body));
    return body;
  }

  function errorText(status, body) {
    if (body && body.error && body.error.message) return body.error.message;
    if (status === 413) return "The file is larger than this server accepts.";
    return "The server answered " + status + "; try again in a minute.";
  }

  function renderQuota() {
    const parts = [quota.daily_left + " of " + quota.daily_quota + " submissions left in the last 24 hours"];
    if (quota.total_quota !== null) parts.push(quota.total_left + " of " + quota.total_quota + " left in all");
    let text = parts.join("; ") + ".";
    if (quota.resets_at && quota.daily_left < quota.daily_quota) text += " The next one frees up " + localTime(quota.resets_at) + ".";
    $("quota").textContent = text;
    $("upload-button").disabled = quota.left === 0;
  }

  function statusCell(s) {
    const cell = el("td");
    cell.appendChild(el("span", s.disqualified ? "disqualified" : s.status, "status status-" + (s.disqualified ? "failed" : s.status)));
    if (s.status === "scored" && s.diagnostics_status) cell.appendChild(el("div", "diagnostics " + s.diagnostics_status, "muted small"));
    return cell;
  }

  // A message longer than one short line shows its first line; the rest opens on a click. An
  // error is marked in words ("Error:") as well as in colour.
  const SHORT = 160;

  function messageNode(text, isError) {
    text = text || "";
    const node = el("div", undefined, "message" + (isError ? " message-error" : ""));
    const label = isError && text ? el("strong", "Error: ", "message-label") : null;
    const firstLine = text.split("\n")[0];
    if (text.length <= SHORT && firstLine === text) {
      if (label) node.appendChild(label);
      node.appendChild(document.createTextNode(text));
      return node;
    }
    let head = firstLine;
    if (head.length > SHORT) head = head.slice(0, SHORT).replace(/\s+\S*$/, "") + " …";  // cut between words
    else head += " …";
    const details = el("details", undefined, "message-more");
    const summary = el("summary");
    if (label) summary.appendChild(label);
    summary.appendChild(document.createTextNode(head));
    details.appendChild(summary);
    details.appendChild(el("div", text, "message-full"));
    node.appendChild(details);
    return node;
  }

  function renderSubmissions() {
    const body = $("submissions").querySelector("tbody");
    body.replaceChildren();
    if (!submissions.length) {
      const row = el("tr");
      const cell = el("td", "No submission yet.", "muted");
      cell.colSpan = 8;
      row.appendChild(cell);
      body.appendChild(row);
    }
    const open = new Date() <= new Date(page.closes_at);
    for (const s of submissions) {
      const row = el("tr");
      row.dataset.id = s.id;
      row.dataset.status = s.status;
      row.appendChild(el("td", s.id));
      row.appendChild(el("td", s.original_name + (s.note ? " — " + s.note : "")));
      row.appendChild(el("td", localTime(s.created_at)));
      row.appendChild(statusCell(s));
      const score = el("td", s.public_score === null ? "" : (s.public_score * (1 - s.late_penalty)).toFixed(4), "num");
      if (s.late_penalty > 0) score.appendChild(el("div", "late: −" + Math.round(s.late_penalty * 100) + "%", "warn small"));
      row.appendChild(score);
      const message = el("td");
      const failed = s.disqualified || s.status === "failed";
      message.appendChild(messageNode(s.disqualified ? (s.disqualified_reason || "Disqualified by the course staff.")
                                                     : s.message, failed));
      // The rehearsal's log (public val images) is the student's; what the model printed on the
      // hidden test images reaches only the course's TAs (hidden_log is null for everyone else).
      const logs = [[s.log_tail, "log of the rehearsal on public val images"],
                    [s.hidden_log, "log on the hidden test images (course staff only)"]];
      for (const [text, label] of logs) {
        if (!text) continue;
        const details = el("details");
        details.appendChild(el("summary", label));
        details.appendChild(el("pre", text, "log"));
        message.appendChild(details);
      }
      row.appendChild(message);
      const pick = el("td");
      if (s.status === "scored" && !s.disqualified && !s.is_baseline) {
        const box = el("input");
        box.type = "checkbox";
        box.className = "final";
        box.value = s.id;
        box.checked = s.selected;
        box.disabled = !open;
        box.setAttribute("aria-label", "choose submission " + s.id + " for the private leaderboard");
        box.addEventListener("change", () => { selectionDirty = true; });
        pick.appendChild(box);
      }
      row.appendChild(pick);
      const actions = el("td");
      if (s.status === "scored") {
        const link = el("a", "diagnostics");
        link.href = page.urls.diagnostics.replace("/0/", "/" + s.id + "/");
        actions.appendChild(link);
      } else if (s.status === "queued" || s.status === "received") {
        const cancel = el("button", "cancel");
        cancel.type = "button";
        cancel.addEventListener("click", () => cancelSubmission(s.id));
        actions.appendChild(cancel);
      }
      row.appendChild(actions);
      body.appendChild(row);
    }
    $("save-selection").disabled = !open;
  }

  async function refresh() {
    try {
      const [list, homework] = await Promise.all([api(page.urls.submissions), api(page.urls.homework)]);
      if (!selectionDirty) submissions = list;
      else {  // keep the student's unsaved ticks, take everything else
        const ticked = new Set([...document.querySelectorAll("input.final:checked")].map((b) => Number(b.value)));
        submissions = list.map((s) => Object.assign(s, { selected: ticked.has(s.id) }));
      }
      quota = homework.quota;
      renderSubmissions();
      renderQuota();
    } catch (e) { /* a missed poll is retried by the next one */ }
    schedulePoll();
  }

  function schedulePoll() {
    clearTimeout(pollTimer);
    const waiting = submissions.some((s) => WAITING.includes(s.status)
      || (s.status === "scored" && ["queued", "running"].includes(s.diagnostics_status)));
    if (waiting) pollTimer = setTimeout(refresh, 3000);
  }

  async function cancelSubmission(id) {
    try {
      await api(page.urls.cancel.replace("/0/", "/" + id + "/"), { method: "POST", body: "{}" });
    } catch (e) { $("upload-status").textContent = e.message; }
    refresh();
  }

  $("upload-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const file = $("upload-file").files[0];
    const status = $("upload-status");
    if (!file) { status.textContent = "Choose a file first."; return; }
    if (file.size > page.max_upload_bytes) {  // checked here so a big file is not sent at all
      status.textContent = "The file is " + (file.size / 1e6).toFixed(1) + " MB; this homework accepts at most "
        + (page.max_upload_bytes / 1048576) + " MB. Make the model smaller or save weights in half precision.";
      return;
    }
    const form = new FormData();
    form.append("file", file);
    form.append("note", $("upload-note").value);
    const xhr = new XMLHttpRequest();
    const bar = $("upload-progress");
    xhr.open("POST", page.urls.submissions);
    xhr.setRequestHeader("X-CSRFToken", csrf);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total);
    });
    xhr.addEventListener("load", () => {
      bar.hidden = true;
      $("upload-button").disabled = false;
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* a proxy's HTML error page */ }
      if (xhr.status === 201) {
        status.textContent = "Uploaded as #" + body.id + "; it is queued for grading.";
        $("upload-form").reset();
        submissions = [body].concat(submissions);
        renderSubmissions();
        refresh();
      } else {
        status.textContent = errorText(xhr.status, body);
      }
    });
    xhr.addEventListener("error", () => {
      bar.hidden = true;
      $("upload-button").disabled = false;
      status.textContent = "The upload did not reach the server; check your connection and upload again.";
    });
    bar.value = 0;
    bar.hidden = false;
    $("upload-button").disabled = true;
    status.textContent = "Uploading…";
    xhr.send(form);
  });

  $("save-selection").addEventListener("click", async () => {
    const ids = [...document.querySelectorAll("input.final:checked")].map((b) => Number(b.value));
    const status = $("selection-status");
    try {
      const body = await api(page.urls.selection, { method: "POST", body: JSON.stringify({ ids: ids }) });
      selectionDirty = false;
      status.textContent = body.selected.length
        ? "Saved: " + body.selected.map((s) => "#" + s.id).join(", ")
          + (body.selected.length === 1 ? " counts" : " count") + " on the private leaderboard."
        : "Saved: none chosen, so your best public submission counts.";
    } catch (e) { status.textContent = e.message; }
  });

  // Copy buttons: data-copy names the element whose text is copied (the install line).
  document.querySelectorAll("button.copy[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      const text = $(button.dataset.copy).textContent;
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = "Copied";
      } catch (e) {  // no clipboard (plain http, an old browser): select it for Ctrl-C
        const range = document.createRange();
        range.selectNodeContents($(button.dataset.copy));
        window.getSelection().removeAllRanges();
        window.getSelection().addRange(range);
        button.textContent = "Selected: press Ctrl-C";
      }
      setTimeout(() => { button.textContent = "Copy"; }, 2500);
    });
  });

  renderQuota();
  renderSubmissions();
  schedulePoll();
})();
