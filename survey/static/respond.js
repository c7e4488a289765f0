/* Respondent pages, with htmx (templates/respond/_enhance.html).
 * - After a page arrives in place of the previous one, move the focus as a page load would:
 *   to the error summary when there is one, else to the page's heading, so a screen reader
 *   announces where the respondent now is.
 * - When the request cannot reach the server (no signal), say so next to the buttons: the
 *   answers stay on the page, and pressing the button again sends them. */
(function () {
  "use strict";

  function netError(show) {
    var el = document.getElementById("net-error");
    if (el) { el.hidden = !show; }
  }

  document.addEventListener("htmx:beforeRequest", function () { netError(false); });
  document.addEventListener("htmx:sendError", function () { netError(true); });
  document.addEventListener("htmx:timeout", function () { netError(true); });

  document.addEventListener("htmx:afterSettle", function (evt) {
    if (!evt.detail || !evt.detail.boosted) { return; }
    var target = document.querySelector(".error-summary") || document.querySelector("main h1, main h2");
    if (target) {
      if (!target.hasAttribute("tabindex")) { target.setAttribute("tabindex", "-1"); }
      target.focus({ preventScroll: target.classList.contains("error-summary") ? false : true });
    }
  });
})();
