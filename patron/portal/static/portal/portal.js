// The customer page works without this file; it only adds the copy buttons and tells
// the widget around the page (if any) to hide for an excluded member.
(function () {
  "use strict";
  function ready() {
    if (document.body.hasAttribute("data-hide-widget") && window.parent !== window) {
      // Carries no personal data, only "hide": the frame's ancestors are limited to
      // the merchant's own sites by frame-ancestors.
      window.parent.postMessage({ type: "patron:hide-widget" }, "*");
    }
    if (!navigator.clipboard) return;
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(button.dataset.copy).then(function () {
          var before = button.textContent;
          button.textContent = button.dataset.copiedText || before;
          setTimeout(function () { button.textContent = before; }, 1500);
        });
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
