// patgate's progressive enhancement. Every page works without it; with it:
// - copy buttons copy a token and say so;
// - checking a classic scope checks the scopes it includes;
// - a select-all checkbox selects the rows of its list;
// - a filter box filters the repositories of the picker;
// - choosing another resource owner refreshes the form for that owner's choices;
// - filter menus apply as soon as they change;
// - fields that do not apply (the custom date, the repository picker) are hidden.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function announce(el, text) {
    var live = el.parentNode.querySelector("[data-copy-status]");
    if (live) { live.textContent = text; }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) { return; }
    var field = document.getElementById(button.getAttribute("data-copy-target"));
    if (!field) { return; }
    var done = function () { announce(button, "Copied to the clipboard."); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {
        field.select(); document.execCommand("copy"); done();
      });
    } else {
      field.focus(); field.select(); document.execCommand("copy"); done();
    }
  });

  // Classic scopes: a parent checks (and locks) its children, as on GitHub.
  function syncScopes() {
    document.querySelectorAll("input[data-scope-parent]").forEach(function (box) {
      var parentName = box.getAttribute("data-scope-parent");
      if (!parentName) { return; }
      var parent = document.querySelector('input[name="scopes"][value="' + parentName + '"]');
      if (parent && parent.checked) { box.checked = true; box.disabled = true; }
      else if (box.disabled) { box.disabled = false; }
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches('input[name="scopes"]')) { syncScopes(); }
  });
  syncScopes();
  // Disabled boxes are not submitted; the parent alone stands for them, as GitHub stores it.

  // Select all.
  document.addEventListener("change", function (event) {
    var all = event.target.closest("[data-select-all]");
    if (all) {
      var name = all.getAttribute("data-select-all");
      document.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (box) {
        if (!box.closest("[hidden]")) { box.checked = all.checked; }
      });
      return;
    }
    var box = event.target;
    if (box.matches('input[type="checkbox"]')) {
      var master = document.querySelector('[data-select-all="' + box.name + '"]');
      if (master) {
        var boxes = Array.prototype.slice.call(document.querySelectorAll('input[type="checkbox"][name="' + box.name + '"]'));
        var checked = boxes.filter(function (b) { return b.checked; }).length;
        master.checked = checked === boxes.length && boxes.length > 0;
        master.indeterminate = checked > 0 && checked < boxes.length;
      }
    }
  });

  // Filter a list by its text.
  document.addEventListener("input", function (event) {
    var input = event.target.closest("[data-filter-list]");
    if (!input) { return; }
    var list = document.getElementById(input.getAttribute("data-filter-list"));
    if (!list) { return; }
    var needle = input.value.trim().toLowerCase();
    var shown = 0;
    list.querySelectorAll("li").forEach(function (li) {
      var match = li.textContent.toLowerCase().indexOf(needle) !== -1;
      li.hidden = !match;
      if (match) { shown += 1; }
    });
    var status = document.getElementById(input.getAttribute("aria-describedby"));
    if (status) { status.textContent = shown + (shown === 1 ? " repository" : " repositories") + " shown"; }
  });

  // Another resource owner: fetch the form for that owner's repositories and permissions.
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-refresh-on-change]")) {
      var refresh = document.getElementById(event.target.getAttribute("data-refresh-on-change"));
      if (refresh) { refresh.click(); }
    }
  });

  // Filter menus apply at once.
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-submit-on-change]") && event.target.form) {
      event.target.form.requestSubmit();
    }
  });

  // Show only the fields that apply.
  function toggles() {
    document.querySelectorAll("[data-show-when]").forEach(function (el) {
      var rule = el.getAttribute("data-show-when").split("=");
      var control = document.querySelector('[name="' + rule[0] + '"]:checked, select[name="' + rule[0] + '"]');
      var value = control ? control.value : "";
      el.hidden = value !== rule[1];
    });
  }
  document.addEventListener("change", toggles);
  toggles();
})();
