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

  const form = new Form({ container, properties: { disabled } });
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

start().catch((error) => {
  const status = document.getElementById("form-status");
  if (status) status.textContent = "The form could not be shown: " + error.message;
});
