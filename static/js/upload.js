// Drag and drop several ES-003 files onto the upload form. Without JavaScript the file input works as is.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-dropzone]").forEach((zone) => {
    const input = zone.querySelector('input[type="file"]');
    const form = zone.closest("form");
    if (!input || !form) return;
    const list = document.createElement("ul");
    list.className = "file-list";
    zone.appendChild(list);
    const show = () => {
      list.replaceChildren(...Array.from(input.files).map((f) => {
        const li = document.createElement("li");
        li.textContent = `${f.name} (${Math.max(1, Math.round(f.size / 1024))} KB)`;
        return li;
      }));
    };
    input.addEventListener("change", show);
    ["dragenter", "dragover"].forEach((ev) => zone.addEventListener(ev, (e) => {
      e.preventDefault();
      zone.classList.add("dragover");
    }));
    ["dragleave", "dragend"].forEach((ev) => zone.addEventListener(ev, () => zone.classList.remove("dragover")));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("dragover");
      if (!e.dataTransfer || !e.dataTransfer.files.length) return;
      input.files = e.dataTransfer.files;
      show();
    });
  });
});
