// The portal's own behaviour, on top of htmx. No inline scripts, so a strict CSP fits.
(function () {
  "use strict";

  function notify(text, level) {
    var box = document.getElementById("notifications");
    if (!box || !text) return;
    var toast = document.createElement("div");
    toast.className = "toast toast-" + (level || "success");
    toast.setAttribute("role", "status");
    toast.textContent = text;
    box.appendChild(toast);
    setTimeout(function () { toast.remove(); }, 8000);
  }

  // Server-side commands answer with HX-Trigger: {"notify": {"text": "...", "level": "..."}}.
  document.addEventListener("notify", function (event) {
    notify(event.detail.text, event.detail.level);
  });

  // Toasts rendered with the page fade out after a while too.
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("#notifications .toast").forEach(function (toast) {
      setTimeout(function () { toast.remove(); }, 8000);
    });
  });

  // Dialogs: closeModal empties the modal container; Escape closes an open dialog.
  document.addEventListener("closeModal", function () {
    var modal = document.getElementById("modal");
    if (modal) modal.innerHTML = "";
  });
  // Cancel in a dialog closes it without leaving the page (the link still works without JS).
  document.addEventListener("click", function (event) {
    var cancel = event.target.closest("#modal [data-close-modal]");
    if (cancel) {
      event.preventDefault();
      document.getElementById("modal").innerHTML = "";
    }
  });
  // A dialog that opens takes the focus, so the keyboard lands inside it.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "modal") {
      var first = event.detail.target.querySelector("input:not([disabled]), button, a");
      if (first) first.focus();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      document.querySelectorAll("details.options-dialog[open]").forEach(function (d) { d.open = false; });
      var modal = document.getElementById("modal");
      if (modal && modal.innerHTML) modal.innerHTML = "";
    }
  });
})();
