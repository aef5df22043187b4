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
  // A select that submits its form when changed (the organisation switcher; a button does it without script).
  document.querySelectorAll("select[data-autosubmit]").forEach((el) => {
    el.addEventListener("change", () => el.form.submit());
  });
});
