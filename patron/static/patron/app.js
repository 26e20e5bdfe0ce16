// Small behaviours the server-rendered pages share. htmx does the rest.
document.addEventListener("htmx:afterRequest", (event) => {
  // A form inside a <dialog> that succeeded without a body closes its dialog.
  const dialog = event.target.closest && event.target.closest("dialog");
  if (dialog && event.detail.successful && event.detail.xhr.status === 204) dialog.close();
});
document.addEventListener("htmx:beforeSwap", (event) => {
  // Validation errors (422) carry the re-rendered form: show them.
  if (event.detail.xhr.status === 422) { event.detail.shouldSwap = true; event.detail.isError = false; }
});

// Behaviours named by data- attributes, listened for once on the document so they also
// work on markup htmx swaps in later. The content security policy forbids inline event
// handlers (onclick="..."), so pages declare what a control does and this file does it.
document.addEventListener("change", (event) => {
  const control = event.target;
  // <select data-autosubmit>: choosing an option submits its form (merchant, language).
  if (control.matches && control.matches("[data-autosubmit]") && control.form) {
    control.form.submit();
  }
  // <input type="checkbox" data-select-all="NAME">: ticks every checkbox named NAME.
  if (control.matches && control.matches("[data-select-all]")) {
    const name = control.dataset.selectAll;
    document.querySelectorAll(`input[type=checkbox][name="${CSS.escape(name)}"]`)
      .forEach((box) => { box.checked = control.checked; });
  }
});
document.addEventListener("click", (event) => {
  const target = event.target.closest && event.target.closest("[data-opens-dialog], [data-closes-dialog]");
  if (!target) return;
  // <button data-opens-dialog="ID"> opens <dialog id="ID">; [data-closes-dialog] closes its own.
  if (target.hasAttribute("data-opens-dialog")) {
    const dialog = document.getElementById(target.dataset.opensDialog);
    if (dialog) dialog.showModal();
  } else {
    const dialog = target.closest("dialog");
    if (dialog) dialog.close();
  }
});
