// Small behaviours the pages add on top of plain HTML. Kept out of the templates: the
// Content-Security-Policy allows scripts from this site's files only, never inline code.
"use strict";
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) {
    window.print();
  }
});
document.addEventListener("focusin", (event) => {
  if (event.target.matches("[data-select-on-focus]")) {
    event.target.select();
  }
});
