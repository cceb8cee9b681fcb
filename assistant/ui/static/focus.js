// The question box takes the focus when the page opens, on a computer only, and without scrolling:
// Gradio's autofocus scrolled the page past its header, and on a phone it opened the keyboard over the page.
(function () {
  if (!window.matchMedia || !window.matchMedia("(hover: hover) and (pointer: fine)").matches) return;
  var tries = 0;
  var timer = setInterval(function () {
    var box = document.querySelector("#question textarea");
    if (box || ++tries > 100) clearInterval(timer);
    if (box && document.activeElement === document.body) box.focus({preventScroll: true});
  }, 100);
})();
