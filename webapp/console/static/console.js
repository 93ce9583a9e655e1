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

  // The wizard's scope picker: the search field becomes a combobox listing the places where
  // the viewer may give the role (a page of matches from the server); choosing one adds it to
  // the chosen places. Without JavaScript the Search button does the same in a page.
  function picker(box) {
    var input = box.querySelector("input[type=search]");
    var chosen = document.getElementById("chosen-list");
    if (!input || !chosen) { return; }
    var list = document.createElement("ul");
    var status = document.createElement("p");
    var items = [];
    var active = -1;
    var timer = null;
    var asked = 0;
    list.id = input.id + "-list";
    list.className = "picker-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Matching places");
    list.hidden = true;
    var note = document.createElement("p");
    note.className = "hint picker-note";
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);
    input.parentNode.insertBefore(list, input.nextSibling);
    box.appendChild(note);
    box.appendChild(status);

    function close() {
      list.hidden = true;
      note.textContent = "";
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }
    function mark(index) {
      var options = list.querySelectorAll("[role=option]");
      Array.prototype.forEach.call(options, function (option, i) {
        option.classList.toggle("active", i === index);
        option.setAttribute("aria-selected", i === index ? "true" : "false");
      });
      active = index;
      if (index >= 0 && options[index]) {
        input.setAttribute("aria-activedescendant", options[index].id);
        options[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }
    function has(key) {
      return Array.prototype.some.call(chosen.querySelectorAll("input[name=scope]"), function (box) {
        return box.value === key;
      });
    }
    function choose(item) {
      if (!has(item.key)) {
        var empty = document.getElementById("chosen-empty");
        if (empty) { empty.parentNode.removeChild(empty); }
        var row = document.createElement("div");
        var check = document.createElement("input");
        var label = document.createElement("label");
        var code = document.createElement("code");
        row.className = "check";
        check.type = "checkbox";
        check.name = "scope";
        check.value = item.key;
        check.checked = true;
        check.id = "chosen-js-" + chosen.querySelectorAll("input").length;
        label.htmlFor = check.id;
        code.textContent = item.key;
        label.appendChild(document.createTextNode(item.label + " "));
        label.appendChild(code);
        row.appendChild(check);
        row.appendChild(document.createTextNode(" "));
        row.appendChild(label);
        chosen.appendChild(row);
      }
      status.textContent = "Added " + item.label + ". " + chosen.querySelectorAll("input:checked").length + " place(s) chosen.";
      input.value = "";
      close();
      input.focus();
    }
    function show(found) {
      items = found.results;
      list.textContent = "";
      items.forEach(function (item, i) {
        var option = document.createElement("li");
        option.id = list.id + "-" + i;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.textContent = item.label + " (" + item.key + ")";
        option.addEventListener("mousedown", function (event) { event.preventDefault(); });
        option.addEventListener("click", function () { choose(item); });
        list.appendChild(option);
      });
      if (!items.length) {
        close();
        note.textContent = "No place matches where you may give this role.";
        status.textContent = note.textContent;
        return;
      }
      note.textContent = found.more ? "More places match: type more of the name or key." : "";
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      status.textContent = items.length + (found.more ? "+" : "") + " match(es). Use the arrow keys and Enter to choose.";
      mark(-1);
    }
    function search() {
      var text = input.value.trim();
      var ticket = ++asked;
      if (!text) { close(); return; }
      fetch(box.getAttribute("data-picker") + "&q=" + encodeURIComponent(text), {
        credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (response) {
        return response.ok ? response.json() : { results: [], more: false };
      }).then(function (found) {
        if (ticket === asked) { show(found); }
      }).catch(function () { close(); });
    }
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(search, 200);
    });
    input.addEventListener("keydown", function (event) {
      var count = items.length;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        if (list.hidden) { search(); return; }
        if (count) { mark((active + 1) % count); }
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        if (count && !list.hidden) { mark(active <= 0 ? count - 1 : active - 1); }
      } else if (event.key === "Enter") {
        if (!list.hidden && count) {
          event.preventDefault();
          choose(items[active >= 0 ? active : 0]);
        }
      } else if (event.key === "Escape") {
        if (!list.hidden) { event.preventDefault(); close(); }
      }
    });
    input.addEventListener("blur", function () { window.setTimeout(close, 150); });
    // Typed into before this script ran (a slow page): search for it now.
    if (document.activeElement === input && input.value.trim()) { search(); }
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-picker]"), picker);

  // Move focus to the list of errors, so keyboard and screen reader users hear it first;
  // else, after a wizard step, to the new step's heading rather than the top of the page.
  var errors = document.getElementById("form-errors");
  var step = document.querySelector("form[data-moved] #step-heading");
  if (errors) {
    errors.focus();
  } else if (step) {
    step.focus();
  }
})();
