// The task page's form: the Camunda Forms JSON from the task's deployed definition, rendered
// with form-js. On submit, form-js checks the fields first; the values then go to the server in
// an ordinary form post (with its CSRF token), where the same rules are checked again. Errors
// the server found come back beside their fields, with the values as they were typed.
import { Form } from "@bpmn-io/form-js";

function readJson(id) {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : null;
}

async function start() {
  const container = document.getElementById("task-form");
  const post = document.getElementById("task-submit");
  if (!container || !post) return;
  const schema = readJson("form-schema");
  const data = readJson("form-data") || {};
  const serverErrors = readJson("form-errors") || {};
  const disabled = post.dataset.disabled === "true";

  // No debounce: every keystroke is in the form's state at once, so a re-render (the extension
  // preview's errors arriving) never puts back an older value over what is being typed.
  const form = new Form({ container, properties: { disabled }, debounce: false });
  await form.importSchema(schema, data);
  container.removeAttribute("aria-busy");

  // Server errors are keyed by field key; form-js keeps errors by field id.
  const byKey = {};
  for (const field of form.get("formFieldRegistry").getAll()) {
    if (field.key) byKey[field.key] = field.id;
  }
  const errors = {};
  for (const [key, messages] of Object.entries(serverErrors)) {
    if (byKey[key]) errors[byKey[key]] = messages;
  }
  if (Object.keys(errors).length) {
    form._setState({ errors });
  }

  watchExtension(form, byKey);

  post.addEventListener("submit", (event) => {
    if (disabled) {
      event.preventDefault();
      return;
    }
    const result = form.submit();
    if (Object.keys(result.errors).length) {
      event.preventDefault();
      const first = container.querySelector("[aria-invalid='true'], .fjs-has-errors input, .fjs-has-errors textarea, .fjs-has-errors select");
      if (first) first.focus();
      const status = document.getElementById("form-status");
      if (status) status.textContent = "Some answers need attention: see the messages beside the fields.";
      return;
    }
    post.querySelector("input[name='data']").value = JSON.stringify(result.data);
  });
}

// An extension's effect before saving: the answers typed so far go to the server, whose diagram works out
// the new due date on the landlord's calendar (nothing here counts days). Its refusals show beside the
// fields already answered; a field not reached yet is not called missing while the caseworker types.
// Only a change to the answers asks again (showing errors changes the form's state, not its answers).
function watchExtension(form, byKey) {
  const preview = document.getElementById("extension-preview");
  if (!preview) return;
  const field = preview.dataset.field;
  let timer = null;
  let asked = 0;
  let lastAnswers = null;
  form.on("changed", ({ data }) => {
    const answers = JSON.stringify(data);
    if (answers === lastAnswers) return;
    lastAnswers = answers;
    clearTimeout(timer);
    const days = data[field];
    if (days === undefined || days === null || days === "") {
      preview.textContent = "";
      return;
    }
    preview.textContent = "Working out the new due date…";
    timer = setTimeout(async () => {
      const mine = ++asked;
      let body;
      try {
        const answer = await fetch(preview.dataset.source, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": preview.dataset.csrf },
          body: JSON.stringify({ data }),
        });
        body = await answer.json();
      } catch (error) {
        preview.textContent = "The new due date could not be worked out just now; it is set when you save.";
        return;
      }
      if (mine !== asked) return;
      const errors = {};
      for (const [key, messages] of Object.entries(body.errors || {})) {
        const answered = data[key] !== undefined && data[key] !== null && data[key] !== "";
        if (byKey[key] && answered) errors[byKey[key]] = messages;
      }
      if (Object.keys(errors).length) {
        form._setState({ errors: { ...form._getState().errors, ...errors } });
      }
      const moved = body.deadlines || [];
      if (body.errors && body.errors[field]) {
        preview.textContent = "Correct the number of days to see the new due date.";
      } else if (moved.length) {
        preview.textContent = moved.map((d) => `New ${d.name.toLowerCase()} date: ${d.due} (was ${d.was}).`).join(" ");
      } else {
        preview.textContent = "";
      }
    }, 400);
  });
}

start().catch((error) => {
  const status = document.getElementById("form-status");
  if (status) status.textContent = "The form could not be shown: " + error.message;
});
