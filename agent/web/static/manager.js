// Keyboard shortcuts of the Links Manager screens (sites, devices). Everything they do is a
// click on a link or button of the page, which works without this file too.
(function () {
  "use strict";

  function manager() {
    return document.getElementById("manager");
  }

  function click(element) {
    if (element && !element.disabled) {
      element.click();
      return true;
    }
    return false;
  }

  function move(step) {
    var picks = Array.prototype.slice.call(manager().querySelectorAll("#list a.pick"));
    if (!picks.length) {
      return false;
    }
    var current = picks.findIndex(function (a) { return a.getAttribute("aria-current") === "true"; });
    var next = current < 0 ? 0 : Math.min(Math.max(current + step, 0), picks.length - 1);
    return next !== current && click(picks[next]);
  }

  function focus(id) {
    var field = document.getElementById(id);
    if (!field) {
      return false;
    }
    field.focus();
    field.select();
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (!manager() || event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    var typing = event.target.closest && event.target.closest("input, textarea, select");
    if (typing) {
      if (event.key === "Escape") {
        event.target.blur();
      }
      return;
    }
    if (event.target.closest && event.target.closest("a, button, summary") && event.key === "Enter") {
      return; // Enter on a focused link or button does what that one does
    }
    var done = false;
    switch (event.key) {
      case "ArrowDown": case "j": done = move(1); break;
      case "ArrowUp": case "k": done = move(-1); break;
      case "Enter": case "l": done = click(document.getElementById("link-top")); break;
      case "n": done = click(document.getElementById("next")); break;
      case "/": done = focus("q"); break;
      case "f": done = focus("find"); break;
    }
    if (done) {
      event.preventDefault();
    }
  });
})();
