// rolecall console: conveniences on top of pages that work without JavaScript.
(function () {
  "use strict";

  // Ask before a destructive form is sent (the server still decides).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // Check usernames and e-mail addresses as they are typed.
  function lookup(area) {
    var out = area.parentNode.querySelector(".lookup");
    var timer = null;
    area.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        var names = area.value.trim();
        if (!names) { out.textContent = ""; return; }
        fetch(area.getAttribute("data-lookup") + "?names=" + encodeURIComponent(names), {
          credentials: "same-origin",
          headers: { "Accept": "application/json" }
        }).then(function (response) {
          return response.ok ? response.json() : [];
        }).then(function (found) {
          var unknown = found.filter(function (item) { return !item.active; });
          out.textContent = "";
          if (!found.length) { return; }
          if (!unknown.length) {
            out.textContent = found.length + " user(s) found: " +
              found.map(function (item) { return item.username; }).join(", ") + ".";
            return;
          }
          var span = document.createElement("span");
          span.className = "unknown";
          span.textContent = "Not found or retired: " +
            unknown.map(function (item) { return item.name; }).join(", ") + ".";
          out.appendChild(span);
        }).catch(function () { out.textContent = ""; });
      }, 300);
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("textarea[data-lookup]"), lookup);

  // Move focus to the list of errors, so keyboard and screen reader users hear it first.
  var errors = document.getElementById("form-errors");
  if (errors) { errors.focus(); }
})();
