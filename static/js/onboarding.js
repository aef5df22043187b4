// Onboarding enhancements. The server enforces the ten minutes; this only tells the user sooner.
document.addEventListener("DOMContentLoaded", () => {
  const timer = document.querySelector("[data-ob-expire]");
  if (timer) {
    const seconds = parseInt(timer.dataset.countdown, 10);
    // Reload just after the deadline: the server restarts the application and says why.
    if (seconds >= 0) setTimeout(() => window.location.reload(), (seconds + 1) * 1000);
  }
  document.querySelectorAll("form[data-ob-back]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm("Going back restarts the application and discards everything you typed. Continue?")) {
        event.preventDefault();
      }
    });
  });
});
