// A letter edited as a document: Tiptap (ProseMirror) over the draft's HTML, with a toolbar of the
// formatting a letter uses. The editor writes its HTML back into the form's textarea, which is what is
// posted; the server cleans it (nh3) as it always has. Without script the textarea is the editor.
// Under the Content-Security-Policy: Tiptap's own <style> element is not injected (injectCSS: false);
// the few rules ProseMirror needs are in app.css.
import { Editor, Node, mergeAttributes } from "@tiptap/core";
import Heading from "@tiptap/extension-heading";
import StarterKit from "@tiptap/starter-kit";

// The letter's own blocks, kept as they are: the layout's header, main and footer, sections and addresses.
const wrapper = (tag) => Node.create({
  name: `letter_${tag}`,
  group: "block",
  content: "block+",
  defining: true,
  parseHTML: () => [{ tag }],
  renderHTML: ({ HTMLAttributes }) => [tag, mergeAttributes(HTMLAttributes), 0],
});
const Address = Node.create({
  name: "letter_address",
  group: "block",
  content: "inline*",
  parseHTML: () => [{ tag: "address" }],
  renderHTML: ({ HTMLAttributes }) => ["address", mergeAttributes(HTMLAttributes), 0],
});

// Inside the page a letter's headings sit under the page's own (its h1 shown as an h3), as in the preview;
// the letter keeps its own levels (what is saved).
const LetterHeading = Heading.extend({
  addNodeView() {
    return ({ node }) => {
      const dom = document.createElement(`h${Math.min(node.attrs.level + 2, 6)}`);
      return {
        dom,
        contentDOM: dom,
        update: (updated) => updated.type.name === "heading" && updated.attrs.level === node.attrs.level,
      };
    };
  },
}).configure({ levels: [1, 2, 3, 4] });

const TOOLS = [
  { label: "Bold", run: (c) => c.toggleBold(), active: "bold" },
  { label: "Italic", run: (c) => c.toggleItalic(), active: "italic" },
  { label: "Underline", run: (c) => c.toggleUnderline(), active: "underline" },
  { label: "Heading", run: (c) => c.toggleHeading({ level: 2 }), active: ["heading", { level: 2 }] },
  { label: "Bulleted list", run: (c) => c.toggleBulletList(), active: "bulletList" },
  { label: "Numbered list", run: (c) => c.toggleOrderedList(), active: "orderedList" },
  { label: "Undo", run: (c) => c.undo() },
  { label: "Redo", run: (c) => c.redo() },
];

function start() {
  const textarea = document.getElementById("body_html");
  const host = document.getElementById("letter-editor");
  if (!textarea || !host) return;

  const toolbar = document.createElement("div");
  toolbar.className = "editor-toolbar";
  toolbar.setAttribute("role", "toolbar");
  toolbar.setAttribute("aria-label", "Letter formatting");
  toolbar.setAttribute("aria-controls", "letter-editor-area");
  const surface = document.createElement("div");
  surface.className = "editor-surface letter";
  host.append(toolbar, surface);

  const editor = new Editor({
    element: surface,
    injectCSS: false,
    extensions: [
      StarterKit.configure({ heading: false, link: { openOnClick: false } }),
      LetterHeading,
      ...["header", "main", "footer", "section"].map(wrapper),
      Address,
    ],
    content: textarea.value,
    editorProps: {
      attributes: {
        id: "letter-editor-area",
        role: "textbox",
        "aria-multiline": "true",
        "aria-labelledby": "letter-editor-label",
        "aria-describedby": "editor-hint",
      },
    },
    onUpdate: ({ editor: e }) => {
      textarea.value = e.getHTML();
    },
  });

  const buttons = TOOLS.map((tool) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button button--small button--secondary";
    button.textContent = tool.label;
    // Pressing a tool keeps the editor's focus and selection (so a mark applies to what is typed next).
    button.addEventListener("mousedown", (event) => event.preventDefault());
    button.addEventListener("click", () => {
      tool.run(editor.chain().focus()).run();
    });
    toolbar.append(button);
    return [tool, button];
  });
  const mark = () => {
    for (const [tool, button] of buttons) {
      if (!tool.active) continue;
      const on = Array.isArray(tool.active) ? editor.isActive(...tool.active) : editor.isActive(tool.active);
      button.setAttribute("aria-pressed", on ? "true" : "false");
    }
  };
  editor.on("selectionUpdate", mark);
  editor.on("transaction", mark);
  mark();

  // The textarea stays in the form (what is posted) but out of sight and out of the tab order.
  textarea.closest(".field").classList.add("field--replaced");
  textarea.setAttribute("tabindex", "-1");
  textarea.setAttribute("aria-hidden", "true");
  host.hidden = false;
  textarea.form.addEventListener("submit", () => {
    textarea.value = editor.getHTML();
  });
}

start();
