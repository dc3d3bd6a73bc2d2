(function () {
  "use strict";
  function copyText(text, button) {
    function done() { button.textContent = "Copied"; setTimeout(function () { button.textContent = "Copy"; }, 1500); }
    function fallback() {
      var area = document.createElement("textarea");
      area.value = text; document.body.appendChild(area); area.select();
      try { document.execCommand("copy"); done(); } finally { document.body.removeChild(area); }
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(done, fallback);
    } else { fallback(); }
  }
  document.querySelectorAll("button.copy").forEach(function (button) {
    button.addEventListener("click", function () {
      var pre = button.parentNode.querySelector("pre");
      copyText(pre.textContent, button);
    });
  });

  document.querySelectorAll("button.more").forEach(function (button) {
    button.addEventListener("click", function () {
      document.getElementById(button.getAttribute("data-target")).hidden = false;
      button.hidden = true;
    });
  });

  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });

  function cellValue(row, index) {
    var cell = row.cells[index];
    return cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, index) {
      th.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var numeric = th.hasAttribute("data-num");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a, index), y = cellValue(b, index);
          var order = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });

  var search = document.getElementById("flow-filter");
  var labelSelect = document.getElementById("flow-label");
  var counter = document.getElementById("flow-count");
  function applyFilter() {
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var label = labelSelect.value;
    var shown = 0;
    document.querySelectorAll("#flows tbody tr").forEach(function (row) {
      var text = row.textContent.toLowerCase();
      var ok = words.every(function (w) { return text.indexOf(w) >= 0; }) &&
               (label === "" || row.getAttribute("data-label") === label);
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    counter.textContent = String(shown);
  }
  if (search && labelSelect) {
    search.addEventListener("input", applyFilter);
    labelSelect.addEventListener("change", applyFilter);
  }
})();
