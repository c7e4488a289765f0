// Integrity review shortcuts: j/k move between responses, a accepts, x excludes, r writes the
// reason; an empty reason gets the row's standard one. The page works without this.
(function () {
  var rows = Array.prototype.slice.call(document.querySelectorAll("#queue .qrow"));
  if (!rows.length) { return; }
  var current = -1;
  function go(i) {
    if (i < 0 || i >= rows.length) { return; }
    current = i;
    rows[i].focus();
    rows[i].scrollIntoView({ block: "nearest" });
  }
  function decide(row, decision) {
    var reason = row.querySelector("input.reason");
    if (!reason.value.trim()) { reason.value = row.dataset["reason" + (decision === "accept" ? "Accept" : "Exclude")]; }
    row.querySelector("button[value=" + decision + "]").click();
  }
  rows.forEach(function (row, i) { row.addEventListener("focusin", function () { current = i; }); });
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test((e.target || {}).tagName || "");
    if (typing) {
      if (e.key === "Escape" && current >= 0) { rows[current].focus(); }
      return;
    }
    var row = current >= 0 ? rows[current] : null;
    if (e.key === "j") { go(current + 1); e.preventDefault(); }
    else if (e.key === "k") { go(Math.max(0, current - 1)); e.preventDefault(); }
    else if (row && e.key === "a") { decide(row, "accept"); e.preventDefault(); }
    else if (row && e.key === "x") { decide(row, "exclude"); e.preventDefault(); }
    else if (row && e.key === "r") { row.querySelector("input.reason").focus(); e.preventDefault(); }
  });
})();
