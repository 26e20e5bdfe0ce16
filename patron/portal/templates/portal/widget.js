{% autoescape off %}/* Patron rewards widget for {{ merchant_name|escapejs }}: a floating button that opens the customer page in a panel. */
(function () {
  "use strict";
  {% if hidden %}return;{% endif %}
  var PAGE = "{{ page_url|escapejs }}";
  var ORIGIN = "{{ origin|escapejs }}";
  var COLOR = "{{ color|escapejs }}";
  if (document.getElementById("patron-rewards-button")) return;

  function start() {
    var button = document.createElement("button");
    button.id = "patron-rewards-button";
    button.type = "button";
    button.textContent = "{{ label|escapejs }}";
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", "patron-rewards-panel");
    var b = button.style;
    b.position = "fixed"; b.right = "16px"; b.bottom = "16px"; b.zIndex = "2147483000";
    b.background = COLOR; b.color = "#fff"; b.border = "0"; b.borderRadius = "999px";
    b.padding = "12px 20px"; b.font = "600 16px system-ui, sans-serif"; b.cursor = "pointer";
    b.boxShadow = "0 4px 14px rgba(0,0,0,.25)";

    var panel = document.createElement("div");
    panel.id = "patron-rewards-panel";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", "{{ label|escapejs }}");
    panel.hidden = true;
    var p = panel.style;
    p.position = "fixed"; p.right = "16px"; p.bottom = "76px"; p.zIndex = "2147483000";
    p.width = "min(380px, calc(100vw - 32px))"; p.height = "min(640px, calc(100vh - 100px))";
    p.background = "#fff"; p.borderRadius = "12px"; p.overflow = "hidden";
    p.boxShadow = "0 8px 30px rgba(0,0,0,.3)"; p.borderTop = "4px solid " + COLOR;

    var close = document.createElement("button");
    close.type = "button";
    close.textContent = "\u00d7";
    close.setAttribute("aria-label", "{{ close_label|escapejs }}");
    var c = close.style;
    c.position = "absolute"; c.top = "4px"; c.right = "8px"; c.border = "0";
    c.background = "transparent"; c.font = "24px system-ui, sans-serif"; c.cursor = "pointer";

    var frame = null;
    function toggle(open) {
      if (open && !frame) {
        // The page loads only when first opened, so a visit that never opens it costs nothing.
        frame = document.createElement("iframe");
        frame.src = PAGE + "?embed=1";
        frame.title = "{{ label|escapejs }}";
        frame.style.border = "0"; frame.style.width = "100%"; frame.style.height = "100%";
        panel.appendChild(frame);
      }
      panel.hidden = !open;
      button.setAttribute("aria-expanded", open ? "true" : "false");
    }
    button.addEventListener("click", function () { toggle(panel.hidden); });
    close.addEventListener("click", function () { toggle(false); button.focus(); });
    panel.appendChild(close);

    // The page inside the frame says when the signed-in customer is excluded from the
    // program; then the widget takes itself off the site. Only our own origin is heard.
    window.addEventListener("message", function (event) {
      if (event.origin !== ORIGIN || !event.data || event.data.type !== "patron:hide-widget") return;
      if (panel.parentNode) panel.parentNode.removeChild(panel);
      if (button.parentNode) button.parentNode.removeChild(button);
    });

    document.body.appendChild(panel);
    document.body.appendChild(button);
  }
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
{% endautoescape %}
