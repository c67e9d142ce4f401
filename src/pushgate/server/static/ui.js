// pushgate web UI: progressive enhancement of the server-rendered pages.
// Without this script the pages still list, filter and show everything;
// it adds the delete/wipe buttons (with a confirmation), copy buttons and
// the trend charts (uPlot, static/vendor). No inline scripts: the pages are
// served with a Content-Security-Policy that forbids them.
(function () {
  "use strict";

  var announcer = document.getElementById("announcer");

  function announce(message) {
    if (!announcer) return;
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = message; }, 30);
  }

  document.querySelectorAll("[data-js-only]").forEach(function (el) { el.hidden = false; });

  // -- confirmation dialog for DELETE and wipe --------------------------------
  var dialog = document.getElementById("confirm-dialog");
  var current = null;

  function errorText(response, body) {
    var text = (body || "").trim();
    var what;
    if (response.status === 401) {
      what = "Not signed in (401 Unauthorized). The gateway needs credentials for this.";
    } else if (response.status === 403) {
      what = "Not allowed (403 Forbidden). Your credential may not delete groups.";
    } else if (response.status === 404) {
      what = "Not found (404). Is the admin API enabled (--web.enable-admin-api)?";
    } else {
      what = "The gateway answered " + response.status + " " + response.statusText + ".";
    }
    return text ? what + " Server said: " + text : what;
  }

  function showError(message) {
    var box = document.getElementById("confirm-error");
    box.textContent = message;
    box.hidden = false;
  }

  function openConfirm(options) {
    if (!dialog) return;
    current = options;
    document.getElementById("confirm-title").textContent = options.title;
    document.getElementById("confirm-text").textContent = options.text;
    document.getElementById("confirm-ok").textContent = options.action;
    var box = document.getElementById("confirm-error");
    box.hidden = true;
    box.textContent = "";
    dialog.showModal();
  }

  if (dialog) {
    var ok = document.getElementById("confirm-ok");
    ok.addEventListener("click", function () {
      if (!current) return;
      var options = current;
      ok.disabled = true;
      fetch(options.url, { method: options.method, credentials: "same-origin" })
        .then(function (response) {
          if (response.ok) {
            dialog.close();
            options.done();
            return null;
          }
          return response.text().then(function (body) { showError(errorText(response, body)); });
        })
        .catch(function (err) { showError("Could not reach the gateway: " + err.message); })
        .finally(function () { ok.disabled = false; });
    });
    dialog.addEventListener("close", function () {
      if (current && current.opener) current.opener.focus();
      current = null;
    });
  }

  function removeRow(button) {
    var row = button.closest("tr");
    if (!row) return;
    var branch = row.closest(".branch-section");
    var job = row.closest(".job-section");
    row.remove();
    if (branch && !branch.querySelector("tr[data-group-row]")) branch.remove();
    if (job && !job.querySelector("tr[data-group-row]")) job.remove();
  }

  document.querySelectorAll("button[data-delete-url]").forEach(function (button) {
    button.addEventListener("click", function () {
      var group = button.getAttribute("data-group");
      openConfirm({
        title: "Delete group?",
        text: "Do you really want to delete all metrics of group " + group + "?",
        action: "Delete group",
        method: "DELETE",
        url: button.getAttribute("data-delete-url"),
        opener: button,
        done: function () {
          var after = button.getAttribute("data-after");
          if (after) {
            window.location.assign(after);
            return;
          }
          var focusTarget = document.getElementById("main");
          removeRow(button);
          var wipe = document.querySelector("button[data-wipe-url]");
          if (wipe) {
            var left = Number(wipe.getAttribute("data-count")) - 1;
            wipe.setAttribute("data-count", String(left));
            wipe.textContent = "Delete all " + left + (left === 1 ? " group" : " groups");
            wipe.hidden = left <= 0;
          }
          if (focusTarget) focusTarget.focus();
          announce("Deleted group " + group + ".");
        },
      });
    });
  });

  document.querySelectorAll("button[data-wipe-url]").forEach(function (button) {
    button.addEventListener("click", function () {
      var count = button.getAttribute("data-count");
      openConfirm({
        title: "Delete all groups?",
        text: "Do you really want to delete all " + count + " groups and every metric they hold? " +
          "This cannot be undone.",
        action: "Delete all groups",
        method: "PUT",
        url: button.getAttribute("data-wipe-url"),
        opener: button,
        done: function () { window.location.assign(document.body.getAttribute("data-base") + "/"); },
      });
    });
  });

  // -- copy buttons ----------------------------------------------------------
  document.querySelectorAll("button[data-copy-target]").forEach(function (button) {
    button.addEventListener("click", function () {
      var target = document.getElementById(button.getAttribute("data-copy-target"));
      var text = target.textContent;
      var copied = function () {
        var label = button.textContent;
        button.textContent = "Copied";
        announce("Command copied to the clipboard.");
        window.setTimeout(function () { button.textContent = label; }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(copied, function () { selectAndCopy(target, copied); });
      } else {
        selectAndCopy(target, copied);
      }
    });
  });

  function selectAndCopy(element, copied) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    try {
      if (document.execCommand("copy")) copied();
    } catch (e) {
      announce("Select the command and copy it with Ctrl+C.");
    }
  }

  // -- trend charts ----------------------------------------------------------
  if (typeof window.uPlot !== "function") return;
  var uPlot = window.uPlot;
  var css = window.getComputedStyle(document.documentElement);
  function color(name) { return css.getPropertyValue(name).trim(); }

  function fmt(v) {
    if (v === null || v === undefined) return "–";
    return Number.isInteger(v) ? String(v) : v.toFixed(1);
  }

  function drawSpark(el) {
    var d;
    try { d = JSON.parse(el.getAttribute("data-spark")); } catch (e) { return; }
    var n = d.labels.length;
    var xs = [];
    for (var i = 0; i < n; i++) xs.push(i + 1);
    var readout = document.createElement("span");
    readout.className = "spark-readout";
    readout.setAttribute("aria-hidden", "true");
    var describe;
    var series;
    var data;
    var yRange;
    if (d.kind === "tests") {
      var okDots = d.failed.map(function (f) { return f === 0 ? 0 : null; });
      var max = Math.max.apply(null, d.failed.map(function (f) { return f || 0; }).concat([1]));
      yRange = [0, max];
      data = [xs, d.failed, okDots];
      series = [
        {},
        {
          label: "failing", stroke: color("--chart-bad"), fill: color("--chart-bad"),
          paths: uPlot.paths.bars({ size: [0.7, 14] }), points: { show: false },
        },
        {
          label: "passing", stroke: color("--chart-ok"), paths: function () { return null; },
          points: { show: true, size: 5, width: 0, fill: color("--chart-ok") },
        },
      ];
      describe = function (idx) {
        var failed = d.failed[idx];
        return d.labels[idx] + ": " + (failed === null ? "no tests" : fmt(failed) + " failing");
      };
    } else {
      var known = d.coverage.filter(function (v) { return v !== null; });
      var lo = Math.min.apply(null, known), hi = Math.max.apply(null, known);
      yRange = [Math.max(0, lo - 2), Math.min(100, hi + 2)];
      if (yRange[1] - yRange[0] < 1) yRange = [yRange[0] - 1, yRange[1] + 1];
      data = [xs, d.coverage];
      series = [
        {},
        {
          label: "coverage", stroke: color("--chart-line"), width: 2, spanGaps: true,
          fill: color("--chart-line") + "22", points: { show: n <= 30, size: 4 },
        },
      ];
      describe = function (idx) {
        var v = d.coverage[idx];
        return d.labels[idx] + ": " + (v === null ? "–" : v.toFixed(1) + " %");
      };
    }
    var resting = describe(n - 1).replace(d.labels[n - 1], "latest");
    readout.textContent = resting;
    var opts = {
      width: 160,
      height: 40,
      padding: [4, 6, 4, 6],
      legend: { show: false },
      select: { show: false },
      cursor: { y: false, drag: { x: false, y: false }, points: { size: 6 } },
      axes: [{ show: false }, { show: false }],
      scales: { x: { time: false, range: [0.5, n + 0.5] }, y: { range: yRange } },
      series: series,
      hooks: {
        setCursor: [function (u) {
          var idx = u.cursor.idx;
          readout.textContent = idx === null || idx === undefined ? resting : describe(idx);
        }],
      },
    };
    el.textContent = "";
    new uPlot(opts, data, el);
    el.appendChild(readout);
    el.classList.add("spark-drawn");
  }

  document.querySelectorAll(".spark[data-spark]").forEach(drawSpark);
})();
