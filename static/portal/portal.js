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
    if (back && document.contains(back)) focusWhenEnabled(back);
  }, true);

  // Focus that cannot be given now (the element is disabled while the page is busy, or went
  // with a swap) is given once the answer is in, to the element of that id.
  var wantFocus = null;
  function focusWhenEnabled(element) {
    wantFocus = null;
    if (element.disabled) wantFocus = element.id;
    else element.focus();
  }
  function restoreFocus(fallbackId) {
    if (document.activeElement && document.activeElement !== document.body) return;
    var back = document.getElementById(wantFocus || fallbackId || "");
    if (back && !back.disabled && !back.closest("dialog:not([open])")) {
      wantFocus = null;
      back.focus();
    }
  }

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
    // The focused element went with the swap (or was disabled while busy): the one drawn in
    // its place takes the focus.
    restoreFocus(focusedId || focusBeforeBusy);
    // A tab of a blade (a boosted link) drew the blade again: the tab chosen keeps the focus,
    // as in a tab list, else the blade's heading has it.
    if (event.detail.boosted && lostFocus()) {
      var main = document.querySelector("main");
      var chosen = main && (main.querySelector(".tabs a[aria-current=page]") || main.querySelector("h1[tabindex]"));
      if (chosen) chosen.focus();
    }
  });

  function lostFocus() {
    var active = document.activeElement;
    return !active || active === document.body || !document.contains(active);
  }

  // After a full page load the keyboard starts in the blade: its heading (tabindex=-1) has
  // the focus, so the next Tab goes to the blade's first control, not through the header and
  // the left navigation (the skip link, by hand, does the same). Not when the address names
  // a place (#fragment), a dialog is open, a field asks for the focus (autofocus), or the
  // focus is somewhere already.
  document.addEventListener("DOMContentLoaded", function () {
    if (location.hash || !lostFocus() || document.querySelector("dialog[open]")) return;
    var asked = Array.prototype.some.call(document.querySelectorAll("[autofocus]"), function (field) {
      return !field.closest("dialog:not([open])");
    });
    var heading = document.querySelector("main h1[tabindex]");
    if (!asked && heading) heading.focus({ preventScroll: true });
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
      return;
    }
    // OK and Cancel of a dialog that is part of a form (the Assignment options): the dialog
    // closes and the form goes to the server with the button's action, which draws it again.
    var submits = event.target.closest("dialog [data-submit-dialog]");
    if (submits) closeDialog(submits.closest("dialog"));
  });

  // Escape in such a dialog is its Cancel: the server puts back what the dialog changed. A
  // button disabled while a request runs is pressed once that request has been answered.
  function pressInDialog(id, selector) {
    var dialog = id ? document.getElementById(id) : document.querySelector("#modal dialog");
    var button = dialog && dialog.querySelector(selector);
    if (!button) return;
    if (!button.disabled) {
      button.click();
      return;
    }
    document.addEventListener("htmx:afterSettle", function again() {
      document.removeEventListener("htmx:afterSettle", again);
      pressInDialog(id, selector);
    });
  }
  document.addEventListener("cancel", function (event) {
    var dialog = event.target;
    if (!(dialog instanceof HTMLDialogElement) || !dialog.querySelector("[data-dialog-cancel]")) return;
    event.preventDefault();
    closeDialog(dialog);
    pressInDialog(dialog.id, "[data-dialog-cancel]");
  }, true);

  // Enter on a switch or a box of a dialog is its primary button (OK, Save), as Escape is
  // its Cancel: toggle with Space, confirm with Enter.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.defaultPrevented || event.isComposing) return;
    var box = event.target;
    var dialog = box.type === "checkbox" && box.closest("dialog[open]");
    if (!dialog || !dialog.querySelector("button.primary")) return;
    event.preventDefault();
    pressInDialog(dialog.id, "button.primary");
  });

  // Enter in the picker's search (Assign's Users and groups) ticks its first result: the
  // one for what was typed, so after the search as you type has answered.
  var picker = { searched: null, busy: false, pickWhenAnswered: false };
  function pickFirst() {
    picker.pickWhenAnswered = false;
    var first = document.querySelector("#picker input[type=checkbox]:not(:checked):not(:disabled)");
    if (first) first.click();
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.elt.id !== "picker-search") return;
    picker.searched = event.detail.elt.value;
    picker.busy = true;
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var from = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!from || from.id !== "picker-search") return;
    picker.busy = false;
    if (picker.pickWhenAnswered) pickFirst();
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.elt.id === "picker-search" && event.detail.failed) {
      picker.busy = picker.pickWhenAnswered = false;
    }
  });
  document.addEventListener("keydown", function (event) {
    var search = event.target;
    if (event.key !== "Enter" || search.id !== "picker-search" || event.isComposing) return;
    event.preventDefault();
    // The results shown are those of the query the page came with, or of the last search.
    var shown = picker.searched === null ? search.defaultValue : picker.searched;
    if (!picker.busy && search.value === shown) pickFirst();
    else picker.pickWhenAnswered = true;
  });

  // While a request runs, its form (or the region it swaps) is busy: aria-busy, a bar that
  // moves (portal.css), and its submit buttons disabled so that nothing is sent twice. The
  // element that had the focus gets it back once the answer is in, if the swap took it away.
  var busy = new Map();
  var focusBeforeBusy = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    var region = (elt.closest && elt.closest("form")) || event.detail.target;
    if (!region || !region.setAttribute) return;
    focusBeforeBusy = document.activeElement && document.activeElement.id;
    var buttons = Array.prototype.filter.call(
      region.querySelectorAll("button[type=submit], button:not([type])"),
      function (button) { return !button.disabled; }
    );
    buttons.forEach(function (button) { button.disabled = true; });
    region.setAttribute("aria-busy", "true");
    busy.set(event.detail.xhr, { region: region, buttons: buttons });
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var state = busy.get(event.detail.xhr);
    if (!state) return;
    busy.delete(event.detail.xhr);
    state.buttons.forEach(function (button) { button.disabled = false; });
    state.region.removeAttribute("aria-busy");
    restoreFocus(focusBeforeBusy);
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
