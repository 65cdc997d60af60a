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

  // One dialog pattern, the native <dialog> opened with showModal(): focus moves in and is
  // trapped there, the rest of the page is inert, Escape closes, and focus returns to the
  // element that opened it. Used by the dialogs the server sends into #modal (+ Assignments),
  // the Assignment options of the Assign blade, and every confirmation (hx-confirm).
  var opener = null;

  function showDialog(dialog, from) {
    if (!dialog || dialog.open) return;
    dialog._opener = from || document.activeElement;
    dialog.showModal();
  }

  function closeDialog(dialog) {
    if (dialog && dialog.open) dialog.close();
  }

  // A dialog closes (Escape, Cancel, OK): a sent one is emptied, and focus goes back.
  document.addEventListener("close", function (event) {
    var dialog = event.target;
    if (!(dialog instanceof HTMLDialogElement)) return;
    var back = dialog._opener;
    if (dialog.dataset.opener) back = document.getElementById(dialog.dataset.opener) || back;
    var modal = document.getElementById("modal");
    if (modal && modal.contains(dialog)) modal.innerHTML = "";
    if (back && document.contains(back)) back.focus();
  }, true);

  // A command that asks for a dialog: remember it, to give the focus back.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (target && target.id === "modal" && !target.contains(event.detail.elt)) {
      opener = event.detail.elt;
    }
  });

  // After a swap: a sent dialog opens; a dialog the server re-rendered while it was open
  // (data-reopen: the options while switches are toggled) opens again, focus where it was.
  var focusedId = null;
  document.addEventListener("htmx:beforeSwap", function () {
    focusedId = document.activeElement && document.activeElement.id;
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var root = event.detail.target || document;
    if (root.id === "modal") showDialog(root.querySelector("dialog"), opener);
    var scope = root.id === "modal" ? root : (root.parentNode || document);
    scope.querySelectorAll("dialog[data-reopen]").forEach(function (dialog) {
      dialog.removeAttribute("data-reopen");  // once: a later swap elsewhere leaves it closed
      showDialog(dialog, document.getElementById(dialog.dataset.opener));
      var again = focusedId && document.getElementById(focusedId);
      if (again && dialog.contains(again)) again.focus();
    });
  });

  // Buttons that open a dialog of the page, and buttons that close theirs. Without script
  // the same buttons submit the form or follow the link.
  document.addEventListener("click", function (event) {
    var opens = event.target.closest("[data-opens]");
    if (opens) {
      event.preventDefault();
      showDialog(document.getElementById(opens.dataset.opens), opens);
      return;
    }
    var closes = event.target.closest("dialog [data-close-dialog]");
    if (closes) {
      event.preventDefault();
      closeDialog(closes.closest("dialog"));
    }
  });

  // The server closes a sent dialog when its command is done (HX-Trigger: closeModal).
  document.addEventListener("closeModal", function () {
    var modal = document.getElementById("modal");
    if (!modal) return;
    closeDialog(modal.querySelector("dialog"));
    modal.innerHTML = "";
  });

  // Confirmations (hx-confirm) in a <dialog> of ours rather than the browser's confirm().
  // A removal names what it removes: where that depends on the rows ticked, the command
  // carries data-confirm-rows (a selector of the ticked boxes, each with data-name) and the
  // question for one (data-confirm-one, with {name}) and for more (data-confirm-many, with
  // {count}); nothing ticked asks nothing, and the server says what to select.
  function question(elt, fallback) {
    if (!elt.dataset.confirmRows) return fallback;
    var ticked = document.querySelectorAll(elt.dataset.confirmRows);
    if (ticked.length === 0) return null;
    if (ticked.length === 1) {
      return elt.dataset.confirmOne.split("{name}").join(ticked[0].dataset.name || "");
    }
    var count = ticked.length.toLocaleString(document.documentElement.lang || undefined);
    return elt.dataset.confirmMany.split("{count}").join(count);
  }

  document.addEventListener("htmx:confirm", function (event) {
    if (!event.detail.question) return;
    var dialog = document.getElementById("confirm-dialog");
    if (!dialog) return;
    event.preventDefault();
    var text = question(event.detail.elt, event.detail.question);
    if (text === null) {
      event.detail.issueRequest(true);
      return;
    }
    dialog.querySelector("[data-confirm-text]").textContent = text;
    var ok = dialog.querySelector("[data-confirm-ok]");
    ok.onclick = function () {
      dialog.close();
      event.detail.issueRequest(true);
    };
    showDialog(dialog, event.detail.elt);
    // The safe answer has the focus: Enter alone never removes anything.
    dialog.querySelector("[data-close-dialog]").focus();
  });
})();
