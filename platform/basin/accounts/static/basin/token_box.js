// The homework page's personal-token box: how many tokens still work (no secrets), and a new
// web-page token on request, shown once in a read-only field with a Copy button. Through
// /api/auth/tokens/ with the page's session and CSRF token; server text is set as text only.
(function () {
  "use strict";
  const box = document.getElementById("token-box");
  if (!box) return;
  const $ = (id) => document.getElementById(id);
  const url = box.dataset.tokensUrl;
  const csrf = box.querySelector("[name=csrfmiddlewaretoken]").value;
  const when = (iso) => (window.basinLocalTime ? window.basinLocalTime(iso) : new Date(iso).toLocaleString());
  const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");

  async function call(method) {
    const response = await fetch(url, { method: method, credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "Accept": "application/json" } });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const said = body && body.error && body.error.message;
      throw new Error(said || "The server answered " + response.status + "; try again in a minute.");
    }
    return body;
  }

  function say(text, isError) {
    $("token-status").textContent = text;
    $("token-status").className = isError ? "error" : "";
  }

  // tokens: the live ones, newest first; shown: the first characters of the token just shown, if any.
  function render(tokens, shown) {
    const web = tokens.filter((t) => t.label === "web page");
    const others = tokens.length - web.length;
    $("token-create").textContent = web.length ? "New token" : "Create a token";
    const parts = [];
    const oldWeb = web.find((t) => t.starts_with !== shown);
    if (oldWeb) parts.push("Your web-page token starts with " + oldWeb.starts_with + "… and " +
      (oldWeb.expiry ? "expires " + when(oldWeb.expiry) : "does not expire") + "; a new one revokes it.");
    parts.push(others ? "You have " + plural(others, "other live token") + " (from basin login)."
      : "You have no other live token.");
    $("token-others").textContent = parts.join(" ");
  }

  async function refresh(shown) {
    try {
      render(await call("GET"), shown);
    } catch (error) {
      $("token-others").textContent = error.message;
    }
  }

  $("token-create").addEventListener("click", async () => {
    $("token-create").disabled = true;
    say("Creating…");
    try {
      const made = await call("POST");
      $("token-value").value = made.token;
      $("token-expiry").textContent = made.expiry ? "It expires " + when(made.expiry) + " (your course sets how long " +
        "a token lasts)." : "It does not expire.";
      $("token-new").hidden = false;
      $("token-value").focus();
      $("token-value").select();
      say(made.replaced ? "Created. Your previous web-page token no longer works." : "Created.");
      await refresh(made.starts_with);
    } catch (error) {
      say(error.message, true);
    } finally {
      $("token-create").disabled = false;
    }
  });

  // Copy: the Clipboard API where the browser allows it, else the text is selected for Ctrl+C.
  $("token-copy").addEventListener("click", async () => {
    const field = $("token-value");
    try {
      await navigator.clipboard.writeText(field.value);
      say("Copied to the clipboard.");
    } catch (error) {
      field.focus();
      field.select();
      say("Selected: press Ctrl+C (⌘C on a Mac) to copy it.");
    }
  });

  refresh(null);
})();
