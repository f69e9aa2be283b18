// RiskOps: small progressive enhancements. Pages work without this file.
// No inline scripts or onclick attributes anywhere, so a strict Content Security Policy fits.

// Opening a "Reveal" control puts the cursor in its reason field.
document.addEventListener("toggle", (event) => {
  const details = event.target;
  if (details instanceof HTMLDetailsElement && details.classList.contains("reveal") && details.open) {
    const input = details.querySelector("input[name=reason]");
    if (input) input.focus();
  }
}, true);

// After htmx swaps in a refused reveal, keep the cursor in the reason field.
document.addEventListener("htmx:afterSwap", (event) => {
  const invalid = document.querySelector("input[aria-invalid=true][name=reason]");
  if (invalid) invalid.focus();
});

// A failed htmx request (a server error, a dropped connection) says so instead of doing nothing.
document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr ? event.detail.xhr.status : 0;
  const banner = document.getElementById("htmx-error") || document.createElement("p");
  banner.id = "htmx-error";
  banner.className = "alert alert-error";
  banner.setAttribute("role", "alert");
  const main = document.getElementById("main");
  // The text comes translated from the page (base.html), with the status appended.
  banner.textContent = `${main ? main.dataset.requestFailed : "Request failed."} (${status})`;
  if (main && !banner.isConnected) main.prepend(banner);
});

// The language switch returns to the page as it is now. Its `next` was written with the page,
// and htmx has since put the filters and the page being read into the address bar (hx-push-url).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.classList.contains("lang-switch")) return;
  const next = form.querySelector("input[name=next]");
  if (next) next.value = window.location.pathname + window.location.search;
}, true);
