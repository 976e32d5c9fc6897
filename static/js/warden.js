// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  // The project switcher navigates as soon as a project is chosen; without script the
  // form's "Go" button does the same.
  document.querySelectorAll("form.js-project-switcher").forEach(function (form) {
    var select = form.querySelector("select");
    form.querySelectorAll(".js-hide-with-script").forEach(function (el) { el.classList.add("d-none"); });
    if (select) {
      select.addEventListener("change", function () {
        if (select.value) { form.submit(); }
      });
    }
  });
  // Forms marked data-confirm ask before they submit (removing members, dropping roles).
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  }, true);
})();
