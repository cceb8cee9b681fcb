// Marker links open and reveal their passage (the plain #anchor works without it too).
document.addEventListener("click", function (event) {
  var link = event.target && event.target.closest ? event.target.closest("a.cite") : null;
  if (!link) return;
  var id = (link.getAttribute("href") || "").slice(1);
  var target = id ? document.getElementById(id) : null;
  if (!target) return;
  event.preventDefault();
  if (target.tagName === "DETAILS") target.open = true;
  target.scrollIntoView({block: "nearest"});
  target.classList.remove("flash"); void target.offsetWidth; target.classList.add("flash");
});
