/* Respondent pages, with htmx (templates/respond/_enhance.html).
 * - While a page is being sent, its form is marked busy (aria-busy; app.css dims the buttons),
 *   as a browser's loading bar would show without scripts.
 * - After a page arrives in place of the previous one, move the focus as a page load would:
 *   to the error summary when there is one, else to the page's heading, so a screen reader
 *   announces where the respondent now is.
 * - When the page cannot be sent (no signal, a server or proxy error, 30 s without an answer),
 *   say so next to the buttons: the answers stay on the page, and pressing the button again
 *   sends them. The notice is written afresh on every failure, so a second failed tap is
 *   announced again; it goes away with the next page. */
(function () {
  "use strict";

  function notSent() {
    var el = document.getElementById("net-error");
    if (!el) { return; }
    var text = el.getAttribute("data-text") || el.textContent;
    el.setAttribute("data-text", text);
    el.textContent = "";
    el.hidden = false;
    window.setTimeout(function () { el.textContent = text; }, 50);
  }

  function busy(evt, on) {
    var form = evt.detail && evt.detail.elt;
    if (form && form.tagName === "FORM") {
      if (on) { form.setAttribute("aria-busy", "true"); } else { form.removeAttribute("aria-busy"); }
    }
  }

  document.addEventListener("htmx:beforeRequest", function (evt) { busy(evt, true); });
  document.addEventListener("htmx:afterRequest", function (evt) { busy(evt, false); });
  document.addEventListener("htmx:sendError", notSent);
  document.addEventListener("htmx:timeout", notSent);
  document.addEventListener("htmx:responseError", notSent);

  document.addEventListener("htmx:afterSettle", function (evt) {
    if (!evt.detail || !evt.detail.boosted) { return; }
    var summary = document.querySelector(".error-summary");
    var target = summary || document.querySelector("main h1, main h2");
    if (!target) { return; }
    if (summary) { summary.removeAttribute("role"); } // focus announces it; once is enough
    if (!target.hasAttribute("tabindex")) { target.setAttribute("tabindex", "-1"); }
    target.focus({ preventScroll: !summary });
  });
})();
