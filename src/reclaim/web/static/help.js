// The help-line directory: show the lines of the country the person picks
// (the page opens on the one its language suggests). The server renders every
// country's list; this only switches which one is visible.
export function setUpHelpLines() {
  const select = document.getElementById("help-country");
  if (!select) return;
  const show = () => {
    for (const list of document.querySelectorAll("[data-help-country]")) {
      list.hidden = list.dataset.helpCountry !== select.value;
    }
  };
  select.addEventListener("change", show);
  const button = document.getElementById("help-show");
  if (button) button.hidden = true; // the list follows the choice at once
  show();
}
