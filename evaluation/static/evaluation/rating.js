// The task pages' small helpers: number keys (rating), Y/N keys (labelling), time with the page visible, image viewer, fresh pages on Back.
(function () {
  "use strict";

  // A page restored from the back/forward cache would show a submitted form: fetch the current task instead.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) window.location.reload();
  });

  function ready(callback) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", callback);
    else callback();
  }

  ready(function () {
    var task = document.querySelector(".rating-task");
    if (!task) return;
    var form = task.closest("form");

    // Number keys 1-5 rate the description that holds the focus, then move on to the next one;
    // in the best-description group they pick description 1-5.
    var groups = Array.prototype.slice.call(task.querySelectorAll("fieldset.description, fieldset.best"));
    function focusGroup(group) {
      var radio = group.querySelector("input[type=radio]:checked") || group.querySelector("input[type=radio]");
      if (radio) radio.focus();
    }
    document.addEventListener("keydown", function (event) {
      if (event.altKey || event.ctrlKey || event.metaKey || !/^[1-5]$/.test(event.key)) return;
      var active = document.activeElement;
      var group = active && active.closest ? active.closest("fieldset.description, fieldset.best") : null;
      if (!group || !task.contains(group)) return;
      var radios = group.querySelectorAll("input[type=radio]");
      var radio = group.classList.contains("best")
        ? radios[Number(event.key) - 1]
        : group.querySelector("input[type=radio][value='" + event.key + "']");
      if (!radio || radio.disabled) return;
      event.preventDefault();
      radio.checked = true;
      radio.dispatchEvent(new Event("change", { bubbles: true }));
      var next = groups[groups.indexOf(group) + 1];
      if (next && group.classList.contains("description")) focusGroup(next);
      else radio.focus();
    });

    // Labelling tasks: Y or N answers the image whose answer holds the focus, then moves on to the next image.
    var labels = Array.prototype.slice.call(task.querySelectorAll("fieldset.image-label"));
    document.addEventListener("keydown", function (event) {
      var key = (event.key || "").toLowerCase();
      if (event.altKey || event.ctrlKey || event.metaKey || (key !== "y" && key !== "n")) return;
      var active = document.activeElement;
      var group = active && active.closest ? active.closest("fieldset.image-label") : null;
      if (!group || !task.contains(group)) return;
      var radio = group.querySelector("input[type=radio][value='" + (key === "y" ? "yes" : "no") + "']");
      if (!radio || radio.disabled) return;
      event.preventDefault();
      radio.checked = true;
      radio.dispatchEvent(new Event("change", { bubbles: true }));
      var next = labels[labels.indexOf(group) + 1];
      if (next) focusGroup(next);
      else radio.focus();
    });

    // Time with the page visible (Page Visibility API), summed over reloads of the same task. The server
    // keeps its own clock and never takes this figure above it.
    var field = task.querySelector("input[name=visible_seconds]");
    var key = "visible-seconds:" + task.getAttribute("data-task");
    var store = null;
    try { store = window.sessionStorage; } catch (error) { store = null; }
    var total = store ? Number(store.getItem(key)) || 0 : 0;
    var since = document.visibilityState === "visible" ? performance.now() : null;
    function collect() {
      if (since !== null) {
        total += (performance.now() - since) / 1000;
        since = document.visibilityState === "visible" ? performance.now() : null;
      }
      if (store) { try { store.setItem(key, String(total)); } catch (error) { /* storage full: keep counting */ } }
      return total;
    }
    document.addEventListener("visibilitychange", function () {
      collect();
      if (document.visibilityState === "visible" && since === null) since = performance.now();
    });
    window.addEventListener("pagehide", collect);
    if (form && field) {
      form.addEventListener("submit", function () { field.value = collect().toFixed(2); });
    }

    // Tap an image to see it large; tap again, Escape or Close to go back.
    var viewer = task.querySelector("dialog.image-viewer");
    if (viewer && viewer.showModal) {
      var large = document.createElement("img");
      viewer.insertBefore(large, viewer.firstChild);
      task.querySelectorAll(".image-cell").forEach(function (cell) {
        cell.addEventListener("click", function () {
          var thumb = cell.querySelector("img");
          large.src = cell.getAttribute("data-full");
          large.alt = thumb ? thumb.alt : "";
          viewer.showModal();
        });
      });
      viewer.addEventListener("click", function () { viewer.close(); });
    }
  });
})();
