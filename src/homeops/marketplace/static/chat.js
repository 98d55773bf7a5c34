/* HomeOps — the project chat in real time (progressive enhancement: the page works without it).
 *
 * Opens WS /api/v1/projects/{id}/chat/ws with the page's session cookie; the handshake carries the page's CSRF
 * token as the subprotocol pair "csrf, <token>" (the server also checks the Origin). Then:
 *   - a "message" frame: the message's HTML (GET …/chat/messages/{id}, rendered by the server like the page's
 *     own list) is added to the conversation, and the other side's messages are marked read;
 *   - "deleted": the message goes if it is gone for this viewer (its HTML answers 404);
 *   - "read": the viewer's messages get their "Read" mark;
 *   - the compose form sends text messages over the socket (with the message they answer); a file, an error
 *     or no socket: the form is posted as without the script (so the server says what is wrong, translated).
 * While the socket is down the conversation is refreshed every few seconds, and the socket is tried again.
 */
(function () {
  "use strict";
  var section = document.getElementById("chat");
  if (!section || !window.WebSocket || !window.fetch || !window.DOMParser) { return; }
  var socketPath = section.dataset.socket, messagesPath = section.dataset.messages;
  var csrf = section.dataset.csrf, readLabel = section.dataset.readLabel || "Read";
  var compose = document.getElementById("compose");
  var socket = null, live = false, attempts = 0, pending = null, pollTimer = null, retryTimer = null;

  function conversation() { return document.getElementById("conversation"); }
  function list() { var c = conversation(); return c ? c.querySelector("ol.chat") : null; }
  function setLive(on) {
    live = on;
    var badge = document.getElementById("chat-live");
    if (badge) { badge.hidden = !on; }
    section.dataset.live = on ? "true" : "false";
  }

  // --- the whole conversation, again (on (re)connecting, and while the socket is down) ------------------
  function refresh() {
    return fetch(window.location.pathname, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("conversation");
        var current = conversation();
        if (fresh && current) { current.replaceWith(fresh); }
      })
      .catch(function () { /* the next attempt */ });
  }

  // --- one message -------------------------------------------------------------------------------------
  function fetchMessage(id) {
    return fetch(messagesPath + encodeURIComponent(id), {
      credentials: "same-origin", headers: { "X-Requested-With": "fetch" }
    }).then(function (r) {
      if (r.status === 404) { return null; }
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.text().then(function (html) {
        var doc = new DOMParser().parseFromString("<ol>" + html + "</ol>", "text/html");
        return doc.querySelector("li");
      });
    });
  }

  function addMessage(message) {
    if (document.getElementById("m-" + message.id)) { return Promise.resolve(); }
    return fetchMessage(message.id).then(function (li) {
      if (!li || document.getElementById("m-" + message.id)) { return; }
      var ol = list();
      if (!ol) { return refresh(); }  // the first message: the empty state gives way to the list
      li.classList.add("is-new");
      ol.appendChild(li);
      if (waitingRead === message.id) { waitingRead = null; markRead(message.id); }
      if (!message.mine && document.visibilityState !== "hidden") { send({ type: "read", up_to: message.id }); }
    }).catch(function () { refresh(); });
  }

  function removeIfGone(id) {
    var li = document.getElementById("m-" + id);
    if (!li) { return; }
    fetchMessage(id).then(function (fresh) { if (!fresh && li.parentNode) { li.parentNode.removeChild(li); } })
      .catch(function () { /* kept */ });
  }

  var waitingRead = null;

  function markRead(upTo) {
    // Every socket of the project hears every receipt, the reader's own too: a receipt up to one of the
    // viewer's messages is the other side's; one up to the other side's message is the viewer's own (nothing
    // to show); one without a message (a side opened the page) is said again by the page itself.
    if (!upTo) { refresh(); return; }
    var target = document.getElementById("m-" + upTo);
    // The receipt can overtake the viewer's own message (still being fetched after "sent"): applied on arrival.
    if (!target) { waitingRead = upTo; return; }
    if (target.dataset.mine !== "true") { return; }
    var ol = list();
    if (!ol) { return; }
    var items = ol.querySelectorAll("li[data-mine='true']"), stop = false;
    Array.prototype.forEach.call(items, function (li) {
      if (stop) { return; }
      var mark = li.querySelector(".read-mark");
      if (mark && !mark.textContent.trim()) { mark.textContent = " · " + readLabel; }
      if (li === target) { stop = true; }
    });
  }

  // --- the socket --------------------------------------------------------------------------------------
  function send(frame) {
    if (socket && live) { socket.send(JSON.stringify(frame)); return true; }
    return false;
  }

  function poll() {
    if (pollTimer || live) { return; }
    pollTimer = window.setInterval(function () { if (!live) { refresh(); } }, 5000);
  }

  function connect() {
    retryTimer = null;
    var url = (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + socketPath;
    try {
      socket = new WebSocket(url, ["csrf", csrf]);
    } catch (e) {
      poll();
      return;
    }
    socket.addEventListener("message", function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame.type === "ready") {
        var first = attempts === 0 && !pollTimer;
        attempts = 0;
        setLive(true);
        if (pollTimer) { window.clearInterval(pollTimer); pollTimer = null; }
        if (!first) { refresh(); }  // what came while the socket was down
      } else if (frame.type === "message" && frame.message) {
        addMessage(frame.message);
      } else if (frame.type === "sent" && frame.message) {
        sentOk(frame.message);
      } else if (frame.type === "deleted" && frame.message_id) {
        removeIfGone(frame.message_id);
      } else if (frame.type === "read") {
        markRead(frame.up_to);
      } else if (frame.type === "error") {
        sendFailed();
      }
    });
    socket.addEventListener("close", function () {
      var was = live;
      setLive(false);
      socket = null;
      if (pending) {
        // Sent or not, nobody can say: the text stays in the box and the conversation shows what arrived.
        pending = null;
        ready();
        refresh();
      }
      attempts += 1;
      poll();
      if (was || attempts < 8) {
        var delay = Math.min(30000, 1000 * Math.pow(2, Math.min(attempts, 5)));
        retryTimer = window.setTimeout(connect, delay);
      }
    });
  }

  // --- composing -----------------------------------------------------------------------------------------
  function setReply(id, who, text) {
    var field = document.getElementById("reply-to"), banner = document.getElementById("reply-banner");
    if (!field || !banner) { return; }
    field.value = id || "";
    document.getElementById("reply-who").textContent = who || "";
    document.getElementById("reply-text").textContent = text || "";
    banner.hidden = !id;
  }

  function ready() {
    if (!compose) { return; }
    var button = compose.querySelector("button[type='submit']");
    if (button) { button.disabled = false; }
    compose.removeAttribute("aria-busy");
  }

  function sentOk(message) {
    pending = null;
    ready();
    var box = compose ? compose.querySelector("textarea[name='text']") : null;
    if (box) { box.value = ""; box.focus(); }
    setReply(null);
    addMessage(message);
  }

  function sendFailed() {
    if (!pending || !compose) { return; }
    pending = null;
    // The server says what is wrong, in the viewer's language: the form is posted as without the script.
    compose.submit();
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    var reply = target ? target.closest("a[data-reply]") : null;
    if (reply && compose) {
      event.preventDefault();
      setReply(reply.dataset.reply, reply.dataset.replyWho, reply.dataset.replyText);
      var box = compose.querySelector("textarea[name='text']");
      if (box) { box.focus(); }
      return;
    }
    if (target && target.closest("#reply-cancel")) {
      event.preventDefault();
      setReply(null);
    }
  });

  if (compose) {
    compose.addEventListener("submit", function (event) {
      var file = compose.querySelector("input[type='file']");
      var box = compose.querySelector("textarea[name='text']");
      var text = box ? box.value.trim() : "";
      if ((file && file.files && file.files.length) || !text || !live || pending) {
        if (pending) { event.preventDefault(); }
        return;  // posted as a form
      }
      event.preventDefault();
      var reply = document.getElementById("reply-to");
      pending = String(Date.now());
      var button = compose.querySelector("button[type='submit']");
      if (button) { button.disabled = true; }
      compose.setAttribute("aria-busy", "true");
      if (!send({ type: "send", text: text, reply_to: reply && reply.value ? reply.value : null, client_id: pending })) {
        pending = null;
        compose.submit();
      }
    });
  }

  window.setInterval(function () { send({ type: "ping" }); }, 25000);
  connect();
})();
