// chinwag web chat: talks to this bot's REST channel (webhooks/rest/webhook, relative to the
// page, so the same file serves "/" and "/bots/<name>/"). No build step, no dependencies.
(function () {
  "use strict";

  var WEBHOOK = "webhooks/rest/webhook";
  var SENDER_KEY = "chinwag-sender:" + location.pathname;
  var list = document.getElementById("messages");
  var form = document.getElementById("composer");
  var input = document.getElementById("input");
  var busy = false;

  function newSender() {
    var bytes = new Uint8Array(8);
    crypto.getRandomValues(bytes);
    var id = "web-" + Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
    localStorage.setItem(SENDER_KEY, id);
    return id;
  }

  var sender = localStorage.getItem(SENDER_KEY) || newSender();

  function add(who, build) {
    var item = document.createElement("li");
    item.className = "msg " + who;
    item.dir = "auto";  // right-to-left scripts read right-to-left, per message
    build(item);
    list.appendChild(item);
    list.scrollTop = list.scrollHeight;
    return item;
  }

  function addText(who, text) {
    return add(who, function (item) {
      var p = document.createElement("p");
      p.className = "text";
      p.textContent = text;
      item.appendChild(p);
    });
  }

  function addButtons(item, buttons) {
    var group = document.createElement("div");
    group.className = "choices";
    buttons.forEach(function (button) {
      var el = document.createElement("button");
      el.type = "button";
      el.className = "choice";
      el.textContent = button.title;
      el.addEventListener("click", function () {
        if (busy) { return; }
        Array.prototype.forEach.call(group.children, function (b) { b.disabled = true; });
        el.classList.add("picked");
        send(button.payload, button.title);
      });
      group.appendChild(el);
    });
    item.appendChild(group);
  }

  function render(message) {
    add("bot", function (item) {
      if (message.text) {
        var p = document.createElement("p");
        p.className = "text";
        p.textContent = message.text;
        item.appendChild(p);
      }
      if (message.image) {
        var img = document.createElement("img");
        img.src = message.image;
        img.alt = "image from the bot";
        item.appendChild(img);
      }
      if (message.attachment) {
        var a = document.createElement("a");
        var url = typeof message.attachment === "string" ? message.attachment : "";
        a.textContent = url || JSON.stringify(message.attachment);
        if (/^https?:\/\//.test(url)) { a.href = url; a.target = "_blank"; a.rel = "noopener"; }
        item.appendChild(a);
      }
      if (message.custom) {
        var pre = document.createElement("pre");
        pre.className = "custom";
        pre.textContent = JSON.stringify(message.custom, null, 2);
        item.appendChild(pre);
      }
      if (message.buttons && message.buttons.length) { addButtons(item, message.buttons); }
    });
  }

  function setBusy(value) {
    busy = value;
    document.body.classList.toggle("busy", value);
    document.getElementById("send").disabled = value;
  }

  function send(text, shown) {
    addText("user", shown);
    setBusy(true);
    return fetch(WEBHOOK, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: sender, message: text, metadata: { source: "web chat" } })
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) { throw new Error(body.error || response.statusText); }
        body.forEach(render);
      });
    }).catch(function (err) {
      addText("error", "Could not reach the bot: " + err.message);
    }).then(function () {
      setBusy(false);
      input.focus();
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text || busy) { return; }
    input.value = "";
    send(text, text);
  });

  document.getElementById("restart").addEventListener("click", function () {
    sender = newSender();
    list.innerHTML = "";
    input.focus();
  });
})();
