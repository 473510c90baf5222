import { render } from "preact";
import { api } from "./api";
import { App } from "./components/App";
import { applyTheme, boot, errorLine, lastTheme } from "./state";
import "./styles.css";

// Links in answers open in the system browser, never inside the app.
document.addEventListener("click", (e) => {
  const a = (e.target as Element | null)?.closest?.("a[href]");
  if (!a) return;
  e.preventDefault();
  const href = a.getAttribute("href") ?? "";
  if (/^(https?:|mailto:)/i.test(href)) void api.openExternal(href);
});

// The renderer's own stylesheet (code highlighting, math), from the core, without inline CSS.
void api.rendererCss().then((css) => {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(css);
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
});

// The palette last shown until the saved setting arrives.
applyTheme(lastTheme());
render(<App />, document.getElementById("app")!);
boot().catch((e) => (errorLine.value = String(e?.message ?? e)));
