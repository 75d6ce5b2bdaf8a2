// Progressive enhancement: the commune / EPCI fields suggest names from the INSEE data as one
// types (a <datalist>, usable with the keyboard). Without JavaScript the field takes a code.
"use strict";
(function () {
  for (const input of document.querySelectorAll("input[data-territoires]")) {
    const list = document.getElementById(input.getAttribute("list"));
    let timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      const q = input.value.trim();
      if (q.length < 2 || !list) return;
      timer = setTimeout(async function () {
        const url = input.dataset.territoires + "?q=" + encodeURIComponent(q);
        const response = await fetch(url, { credentials: "same-origin" });
        if (!response.ok) return;
        const found = await response.json();
        list.replaceChildren(
          ...found.map(function (t) {
            const option = document.createElement("option");
            option.value = t.code;
            option.label = t.label;
            option.textContent = t.label;
            return option;
          })
        );
      }, 150);
    });
  }
})();
