// Refresh the dashboard totals every 30 s without reloading; the page works without this.
(function () {
  var totals = document.getElementById("totals");
  if (!totals || !window.fetch) { return; }
  function refresh() {
    fetch(totals.dataset.source, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data || !data.total) { return; }
        totals.querySelectorAll("[data-k]").forEach(function (el) {
          var k = el.dataset.k;
          if (k in data.total && k !== "target") { el.textContent = data.total[k]; }
        });
      })
      .catch(function () {});
  }
  setInterval(refresh, 30000);
})();
