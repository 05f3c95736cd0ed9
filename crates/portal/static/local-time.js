// Shows every <time datetime="…"> in the viewer's own time zone and locale;
// the server renders UTC, which stays in the tooltip.
"use strict";
const format = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  timeZoneName: "short",
});
for (const element of document.querySelectorAll("time[datetime]")) {
  const at = new Date(element.getAttribute("datetime"));
  if (Number.isNaN(at.getTime())) continue;
  const utc = element.textContent;
  element.textContent = format.format(at);
  element.title = utc;
}
