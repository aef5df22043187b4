// Small progressive enhancements; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-countdown]").forEach((el) => {
    const deadline = Date.now() + parseInt(el.dataset.countdown, 10) * 1000;
    const tick = () => {
      const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      el.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
      if (left > 0) setTimeout(tick, 1000);
    };
    tick();
  });
  // Reason tooltips (entries list) show on hover and on focus; Escape hides the one showing without moving
  // the pointer or the focus (WCAG 2.2, 1.4.13 Content on Hover or Focus). It shows again on the next
  // hover or focus.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    document.querySelectorAll(".reason:hover, .reason:focus-within").forEach((el) => {
      if (!el.classList.contains("tip-dismissed")) {
        el.classList.add("tip-dismissed");
        event.preventDefault();
      }
    });
  });
  const reshow = (event) => {
    const reason = event.target.closest && event.target.closest(".reason");
    if (reason) reason.classList.remove("tip-dismissed");
  };
  document.addEventListener("focusin", reshow);
  document.addEventListener("mouseover", (event) => {
    const reason = event.target.closest && event.target.closest(".reason");
    if (reason && !reason.contains(event.relatedTarget)) reason.classList.remove("tip-dismissed");
  });
  // A select that submits its form when changed (the organisation switcher; a button does it without script).
  document.querySelectorAll("select[data-autosubmit]").forEach((el) => {
    el.addEventListener("change", () => el.form.submit());
  });
});
