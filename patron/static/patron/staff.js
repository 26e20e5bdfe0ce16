// Staff screens' small behaviours, declared with data- attributes (no inline scripts).
document.addEventListener("click", (event) => {
  // <button data-copy="#id">: copies the text (or value) of the element to the clipboard.
  const copy = event.target.closest && event.target.closest("[data-copy]");
  if (!copy) return;
  const source = document.querySelector(copy.dataset.copy);
  if (!source) return;
  const text = (source.value || source.textContent || "").trim();
  if (navigator.clipboard) navigator.clipboard.writeText(text).catch(() => {});
  copy.setAttribute("data-copied", "true");
});
// <form data-checkout data-available="N" data-multiplier="M">: the "Give Points" checkout
// line shows the balance the member will have once the typed points are added.
document.addEventListener("input", (event) => {
  const form = event.target.closest && event.target.closest("form[data-checkout]");
  if (!form) return;
  const amount = parseInt(form.elements.amount.value, 10) || 0;
  const multiplier = parseFloat(form.dataset.multiplier) || 1;
  const total = parseInt(form.dataset.available, 10) + Math.floor(amount * multiplier);
  const line = form.querySelector("[data-checkout-line]");
  if (line) line.textContent = total.toLocaleString(document.documentElement.lang);
});
