/* HomeOps — progressive enhancement (our own code; every page works without it).
 *   form[data-swap="#id"], a[data-swap="#id"]: load the answer in the background and replace #id with the
 *     element of the same id in the page that comes back (after a form's redirect: the page it leads to);
 *     a GET keeps the address bar in step (filters, paging). Anything unexpected: a normal navigation.
 *   [data-autosubmit]: submits its form when it changes.        form[data-confirm]: asks first.
 *   [data-copy="#input"]: copies the input's value.            [data-poll="ms"]: refreshes itself while present.
 */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var announce = function (text) {
    var region = document.getElementById("announce");
    if (region) { region.textContent = ""; window.setTimeout(function () { region.textContent = text; }, 50); }
  };

  function swapFrom(doc, selector) {
    var fresh = doc.querySelector(selector), current = document.querySelector(selector);
    if (!fresh || !current) { return false; }
    current.replaceWith(fresh);
    var flash = doc.getElementById("flash"), here = document.getElementById("flash");
    if (flash && here) { here.replaceWith(flash); }
    if (doc.title) { document.title = doc.title; }
    startPolling(fresh);
    return true;
  }

  function load(url, init, selector, push, origin) {
    if (origin) { origin.setAttribute("aria-busy", "true"); }
    init.credentials = "same-origin";
    init.headers = { "X-Requested-With": "fetch" };
    return fetch(url, init).then(function (response) {
      return response.text().then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        if (!swapFrom(doc, selector)) { window.location.assign(response.url); return; }
        if (push && response.url !== window.location.href) { window.history.pushState({ swap: selector }, "", response.url); }
        var focusable = document.querySelector(selector + " [aria-invalid='true'], " + selector + " [role='alert']");
        if (focusable) { focusable.setAttribute("tabindex", "-1"); focusable.focus(); }
      });
    }).catch(function () {
      if (origin && origin.tagName === "FORM") { origin.submit(); } else { window.location.assign(url); }
    }).finally(function () {
      if (origin) { origin.removeAttribute("aria-busy"); }
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) { return; }
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) { event.preventDefault(); return; }
    var selector = form.dataset.swap;
    if (!selector || !window.fetch || !window.DOMParser) { return; }
    event.preventDefault();
    var method = (form.getAttribute("method") || "get").toUpperCase();
    var data = new FormData(form);
    if (event.submitter && event.submitter.name) { data.append(event.submitter.name, event.submitter.value); }
    if (method === "GET") {
      var query = new URLSearchParams(data).toString(), target = new URL(form.action, window.location.href);
      target.search = query;  // the fragment (if any) stays after the query, where it belongs
      load(target.toString(), { method: "GET" }, selector, true, form);
    } else {
      load(form.action, { method: method, body: data }, selector, false, form);
    }
  });

  document.addEventListener("click", function (event) {
    var link = event.target instanceof Element ? event.target.closest("a[data-swap]") : null;
    if (link && window.fetch && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
      event.preventDefault();
      load(link.href, { method: "GET" }, link.dataset.swap, true, link);
      return;
    }
    var copy = event.target instanceof Element ? event.target.closest("[data-copy]") : null;
    if (copy) {
      var input = document.querySelector(copy.dataset.copy);
      if (input && navigator.clipboard) {
        event.preventDefault();
        navigator.clipboard.writeText(input.value).then(function () { announce(copy.dataset.copied || "Copied"); });
      } else if (input) { input.select(); }
    }
  });

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el instanceof Element && el.hasAttribute("data-autosubmit") && el.form) {
      if (el.form.requestSubmit) { el.form.requestSubmit(); } else { el.form.submit(); }
    }
  });

  window.addEventListener("popstate", function () { window.location.reload(); });

  function startPolling(root) {
    var nodes = (root || document).querySelectorAll ? (root || document).querySelectorAll("[data-poll][id]") : [];
    if (root && root.matches && root.matches("[data-poll][id]")) { nodes = [root]; }
    Array.prototype.forEach.call(nodes, function (node) {
      var delay = Math.max(2000, parseInt(node.dataset.poll, 10) || 5000);
      window.setTimeout(function () {
        if (!document.body.contains(node)) { return; }
        fetch(window.location.href, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
          .then(function (r) { return r.text(); })
          .then(function (html) { swapFrom(new DOMParser().parseFromString(html, "text/html"), "#" + node.id); })
          .catch(function () { /* try again on the next page load */ });
      }, delay);
    });
  }
  startPolling(document);
})();
