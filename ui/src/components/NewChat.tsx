import { useEffect, useRef } from "preact/hooks";
import { t } from "../i18n";
import { chosenScenario, draft, formMissing, formRefusals, formValues, lang, brokenScenarios, scenarios } from "../state";
import type { Scenario } from "../types";
import { Composer } from "./Composer";
import { open as openDialog } from "@tauri-apps/plugin-dialog";
import { attach, baseName, detach, DOCUMENT_EXTENSIONS, pending } from "../attach";

export function NewChat() {
  const l = lang.value;
  const chosen = chosenScenario.value;
  return (
    <section class="new-chat-view">
      <h1>{t(l, "newchat.heading")}</h1>
      <div class="cards">
        <button class={`card${chosen === null ? " chosen" : ""}`} id="scenario-free" onClick={() => (chosenScenario.value = null)}>
          <span class="card-icon">💬</span>
          <span class="card-name">{t(l, "newchat.free")}</span>
          <span class="card-desc">{t(l, "newchat.freeDesc")}</span>
        </button>
        {scenarios.value.map((s) => (
          <Card key={s.id} s={s} />
        ))}
      </div>
      {brokenScenarios.value.length > 0 && (
        <ul class="broken">
          {brokenScenarios.value.map((b) => (
            <li key={b}>{b}</li>
          ))}
        </ul>
      )}
      {chosen && <Starters s={chosen} />}
      {chosen && chosen.fields.length > 0 && <Form s={chosen} />}
      <Composer />
    </section>
  );
}

function Card({ s }: { s: Scenario }) {
  const l = lang.value;
  const chosen = chosenScenario.value?.id === s.id;
  return (
    <button
      class={`card${chosen ? " chosen" : ""}`}
      id={`scenario-${s.id}`}
      onClick={() => {
        chosenScenario.value = s;
        formValues.value = {};
      }}
    >
      <span class="card-icon">{s.icon}</span>
      <span class="card-name">{s.name[l]}</span>
      <span class="card-desc">{s.description[l]}</span>
    </button>
  );
}

function Starters({ s }: { s: Scenario }) {
  const l = lang.value;
  if (s.starter_questions.length === 0) return null;
  return (
    <div class="starters">
      {s.starter_questions.map((q, i) => (
        <button class="starter" key={i} onClick={() => (draft.value = q[l])}>
          {q[l]}
        </button>
      ))}
    </div>
  );
}

function Form({ s }: { s: Scenario }) {
  const l = lang.value;
  const values = formValues.value;
  const missing = formMissing.value;
  const box = useRef<HTMLFieldSetElement>(null);
  // A refused send: the first empty field comes into view (the composer sits over the form's
  // end) and takes the keys.
  const refusals = formRefusals.value;
  useEffect(() => {
    if (refusals === 0) return;
    const first = box.current?.querySelector<HTMLElement>(".field.missing textarea, .field.missing input, .field.missing select");
    first?.scrollIntoView({ block: "center" });
    first?.focus();
  }, [refusals]);
  const set = (name: string, v: string) => {
    formValues.value = { ...formValues.value, [name]: v };
    if (missing.includes(name) && v.trim()) formMissing.value = missing.filter((m) => m !== name);
  };
  return (
    <fieldset class="form" ref={box}>
      <legend>{t(l, "newchat.form")}</legend>
      {s.fields.map((f) => (
        <label key={f.name} class={`field${missing.includes(f.name) ? " missing" : ""}`} aria-invalid={missing.includes(f.name) ? "true" : undefined}>
          <span>
            {f.label[l]}
            {f.required && <em> ({t(l, "newchat.required")})</em>}
          </span>
          {f.kind === "file" ? (
            <FileField name={f.name} value={values[f.name] ?? ""} hint={f.placeholder?.[l] ?? ""} set={set} />
          ) : (
            <FieldInput f={f} value={values[f.name] ?? ""} set={(v) => set(f.name, v)} />
          )}
        </label>
      ))}
      {missing.length > 0 && (
        <p class="error" id="form-missing" role="alert">
          {t(l, "newchat.missing", { fields: s.fields.filter((f) => missing.includes(f.name)).map((f) => f.label[l]).join(l === "zh" ? "、" : ", ") })}
        </p>
      )}
    </fieldset>
  );
}

/** A preset's text, number or choice field, as the new-chat form and an edit show it. */
export function FieldInput({ f, value, set }: { f: Scenario["fields"][number]; value: string; set: (v: string) => void }) {
  const l = lang.value;
  if (f.kind === "textarea")
    return <textarea name={f.name} rows={3} placeholder={f.placeholder?.[l] ?? ""} value={value} onInput={(e) => set((e.target as HTMLTextAreaElement).value)} />;
  if (f.kind === "select")
    return (
      <select name={f.name} value={value} onChange={(e) => set((e.target as HTMLSelectElement).value)}>
        <option value="">—</option>
        {(f.options ?? []).map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    );
  return (
    <input
      name={f.name}
      inputMode={f.kind === "number" || f.kind === "percent" ? "decimal" : undefined}
      placeholder={f.placeholder?.[l] ?? ""}
      value={value}
      onInput={(e) => set((e.target as HTMLInputElement).value)}
    />
  );
}

/** A preset's document field: the file is attached with the question (its chip over the
 *  composer); the field shows its name. */
function FileField({ name, value, hint, set }: { name: string; value: string; hint: string; set: (name: string, v: string) => void }) {
  const l = lang.value;
  const chosen = pending.value.find((p) => p.name === value);
  const pick = async () => {
    const path = await openDialog({ multiple: false, filters: [{ name: "PDF, Excel, CSV, Word", extensions: DOCUMENT_EXTENSIONS }] });
    if (typeof path !== "string") return;
    if (chosen) detach(chosen.path);
    attach([path]);
    set(name, baseName(path));
  };
  return (
    <span class="file-field" data-field={name}>
      {value && chosen ? <span class="chip attachment">📎 {value}</span> : <span class="muted">{hint}</span>}
      <button type="button" class="file-pick" onClick={(e) => { e.preventDefault(); void pick(); }}>
        {value && chosen ? t(l, "attach.replace") : t(l, "attach.choose")}
      </button>
    </span>
  );
}
