// Live sections of the researcher pages: every element with data-poll-url is replaced by the
// server's fresh fragment every data-poll-seconds; a 204 answer means "unchanged".
(function () {
  "use strict";
  function schedule(element) {
    var seconds = Number(element.getAttribute("data-poll-seconds") || 5);
    window.setTimeout(function () { refresh(element); }, seconds * 1000);
  }
  function refresh(element) {
    fetch(element.getAttribute("data-poll-url"), {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}})
      .then(function (response) {
        if (response.status !== 200) { return null; }
        return response.text();
      })
      .then(function (html) {
        var next = element;
        if (html) {
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var fresh = holder.querySelector("[data-poll-url]");
          if (fresh) { element.replaceWith(fresh); next = fresh; }
        }
        schedule(next);
      })
      .catch(function () { schedule(element); });
  }
  document.querySelectorAll("[data-poll-url]").forEach(schedule);
})();
