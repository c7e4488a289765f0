// Refresh the dashboard totals (sampled and public QR) every 30 s without reloading; the page
// works without this.
(function () {
  var lists = document.querySelectorAll("dl.totals[data-source]");
  if (!lists.length || !window.fetch) { return; }
  function refresh() {
    fetch(lists[0].dataset.source, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data || !data.total) { return; }
        lists.forEach(function (list) {
          list.querySelectorAll("[data-k]").forEach(function (el) {
            var k = el.dataset.k;
            if (k in data.total && k !== "target") { el.textContent = data.total[k]; }
          });
        });
      })
      .catch(function () {});
  }
  setInterval(refresh, 30000);
})();
