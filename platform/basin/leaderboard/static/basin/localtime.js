// Times are written in UTC by the server; show each <time datetime> in the viewer's own zone.
// basinLocalTime(iso) is the same format for the pages' scripts (loaded after this one).
window.basinLocalTime = function (iso) {
  if (!iso) return "";
  const when = new Date(iso);
  return isNaN(when) ? "" : when.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
};
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("time[datetime]").forEach((node) => {
    const text = window.basinLocalTime(node.getAttribute("datetime"));
    if (!text) return;
    node.title = node.textContent.trim();
    node.textContent = text;
  });
});
