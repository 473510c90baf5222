import { Fragment } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, errorText } from "../api";
import { t, type Lang } from "../i18n";
import { prefillSecondsLeft, reasoningPhase, type PrefillProgress } from "../stream";
import { reasoningLabel, storedReasoningSeconds } from "../timer";
import { Throttled } from "../throttle";
import { Recent } from "../recent";
import { atBottom, follow } from "../follow";
import { formRows } from "../formRows";
import { current, editingQuestion, foundMessage, foundTerms, isStreaming, lang, live, now, reloadConversation, scenarios, send, showBranch } from "../state";
import type { AnswerSource, Approval, ApprovalRequest, Attachment, CalcCheck, ConversationView, Message, ToolCall, ToolResult } from "../types";
import { attach, DOCUMENT_EXTENSIONS, pending, readingAny, readyPaths, showStored, withAttachedFiles } from "../attach";
import { open as openDialog } from "@tauri-apps/plugin-dialog";
import { PendingChips } from "./Attachments";
import { Composer } from "./Composer";
import { firstLine, size } from "./format";
import { ExportDialog } from "./ExportDialog";
import { openSource } from "./PageView";
import { FieldInput } from "./NewChat";
import { markTerms, searchTerms } from "../markTerms";

export function ChatView() {
  const view = current.value!;
  const byId = new Map(view.messages.map((m) => [m.id, m]));
  const path = view.active_path.map((id) => byId.get(id)).filter((m): m is Message => m !== undefined);
  const end = useRef<HTMLDivElement>(null);
  const list = useRef<HTMLDivElement>(null);
  const [exporting, setExporting] = useState(false);
  // Following the stream while the analyst is at the bottom; a scroll up to read stops it.
  const following = useRef(true);
  const [behind, setBehind] = useState(false);
  const jump = () => {
    following.current = true;
    setBehind(false);
    end.current?.scrollIntoView({ block: "end" });
  };
  // A conversation opened or a turn added: to the end, unless a search hit asked for a message.
  useEffect(() => {
    if (foundMessage.value === null) jump();
  }, [view.conversation.id, path.length]);
  const found = foundMessage.value;
  useEffect(() => {
    if (found === null) return;
    const el = list.current?.querySelector<HTMLElement>(`.msg[data-id="${found}"]`);
    if (!el) return;
    following.current = false;
    el.scrollIntoView({ block: "center" });
    el.classList.add("found");
    foundMessage.value = null;
    setTimeout(() => el.classList.remove("found"), 2500);
    // The answer's HTML may still be on its way from the renderer: marked when it lands too.
    const terms = searchTerms(foundTerms.value);
    // Only in text the renderer made (an answer, the reasoning): the rest is Preact's to redraw.
    for (const wait of [0, 300, 1200]) setTimeout(() => el.querySelectorAll<HTMLElement>(".markdown").forEach((m) => markTerms(m, terms)), wait);
  }, [found, view]);
  useEffect(
    () =>
      list.current
        ? follow(
            list.current,
            () => following.current,
            () => {
              following.current = false;
              setBehind(true);
            },
          )
        : undefined,
    [],
  );
  // An answer still being written that this view does not stream (left for a new chat, then
  // opened again): its text is read from the store as it is saved, until it ends.
  // The documents attached to the questions (the chips under each).
  // `null` until read: an edit begun before then keeps every document (it cannot tell).
  const [docs, setDocs] = useState<Attachment[] | null>(null);
  useEffect(() => {
    let live = true;
    api.attachments(view.conversation.id).then(
      (a) => live && setDocs(a),
      () => live && setDocs(null),
    );
    return () => {
      live = false;
    };
    // An edit swaps a question for another at the same depth: the messages' count changes.
  }, [view.conversation.id, view.messages.length]);
  const background = path.some((m) => m.status === "streaming" && live.value?.answerId !== m.id);
  useEffect(() => {
    if (!background) return;
    const id = view.conversation.id;
    const timer = setInterval(() => void reloadConversation(id), 1000);
    return () => clearInterval(timer);
  }, [background, view.conversation.id]);
  const onScroll = () => {
    const el = list.current;
    if (!el) return;
    following.current = atBottom(el.scrollTop, el.scrollHeight, el.clientHeight);
    setBehind(!following.current);
  };
  return (
    <section class="chat">
      <header class="chat-head">
        <h2 id="conversation-title" title={view.conversation.title}>
          {firstLine(view.conversation.title)}
        </h2>
        {view.conversation.scenario_id && (
          <span class="tag" id="conversation-preset">
            {scenarios.value.find((x) => x.id === view.conversation.scenario_id)?.name[lang.value] ?? view.conversation.scenario_id}
          </span>
        )}
        <button class="export-button" id="export-open-dialog" disabled={isStreaming()} onClick={() => setExporting(true)}>
          {t(lang.value, "export.button")}
        </button>
      </header>
      {exporting && <ExportDialog view={view} onClose={() => setExporting(false)} />}
      <div
        class="messages"
        id="messages"
        ref={list}
        onScroll={onScroll}
        // A wheel turned up means "let me read", before the scroll event that follows it.
        onWheel={(e) => {
          if (e.deltaY < 0) {
            following.current = false;
            setBehind(true);
          }
        }}
      >
        {path.map((m) => (m.role === "user" ? <Question key={m.id} m={m} view={view} docs={docs?.filter((d) => d.message_id === m.id) ?? null} /> : <Answer key={m.id} m={m} view={view} />))}
        <div ref={end} />
        {behind && (
          <button class="jump-latest" id="jump-latest" onClick={jump}>
            ↓ {t(lang.value, "chat.jumpLatest")}
          </button>
        )}
      </div>
      <Composer />
    </section>
  );
}

/** Other versions of a message: same parent, same role. */
function siblings(view: ConversationView, m: Message): Message[] {
  return view.messages.filter((o) => o.parent_id === m.parent_id && o.role === m.role).sort((a, b) => a.id - b.id);
}

function BranchNav({ m, view }: { m: Message; view: ConversationView }) {
  const l = lang.value;
  const sibs = siblings(view, m);
  if (sibs.length < 2) return null;
  const i = sibs.findIndex((s) => s.id === m.id);
  return (
    <span class="branch-nav">
      <button class="icon" title={t(l, "message.prev")} disabled={i <= 0 || isStreaming()} onClick={() => void showBranch(sibs[i - 1].id)}>
        ‹
      </button>
      <span class="branch-count">{t(l, "message.branch", { i: i + 1, n: sibs.length })}</span>
      <button class="icon" title={t(l, "message.next")} disabled={i >= sibs.length - 1 || isStreaming()} onClick={() => void showBranch(sibs[i + 1].id)}>
        ›
      </button>
    </span>
  );
}

function Question({ m, view, docs: read }: { m: Message; view: ConversationView; docs: Attachment[] | null }) {
  const docs = read ?? [];
  const l = lang.value;
  const typed = m.form?.question ?? m.content;
  const fields = formRows(m.form?.fields ?? {}, scenarios.value.find((x) => x.id === view.conversation.scenario_id), l);
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(typed);
  const preset = scenarios.value.find((x) => x.id === view.conversation.scenario_id);
  // A preset question is edited whole: its form's facts and its documents, not only its line.
  const editable = (preset?.fields ?? []).filter((f) => f.kind !== "file");
  const [form, setForm] = useState<Record<string, string>>({});
  const [keep, setKeep] = useState<Set<number>>(new Set());
  // The composer's files when the edit began: not the edit's to send.
  const [before, setBefore] = useState<string[]>([]);
  const begin = () => {
    setBefore(pending.value.map((p) => p.path));
    setText(typed);
    setForm({ ...(m.form?.fields ?? {}) });
    setKeep(new Set(docs.map((d) => d.id)));
    editingQuestion.value = m.id;
    setEditing(true);
  };
  if (editing) {
    const pick = async () => {
      const chosen = await openDialog({ multiple: true, filters: [{ name: "PDF, Excel, CSV, Word", extensions: DOCUMENT_EXTENSIONS }] });
      if (chosen) attach(Array.isArray(chosen) ? chosen : [chosen]);
    };
    const whole = editable.length > 0 || docs.length > 0;
    return (
      <div class="msg question editing" data-id={m.id}>
        <textarea class="edit-box" rows={3} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
        {editable.length > 0 && m.form && (
          <fieldset class="form edit-form">
            <legend>{t(l, "newchat.form")}</legend>
            {editable.map((f) => (
              <label key={f.name} class="field" data-field={f.name}>
                <span>{f.label[l]}</span>
                <FieldInput f={f} value={form[f.name] ?? ""} set={(v) => setForm({ ...form, [f.name]: v })} />
              </label>
            ))}
          </fieldset>
        )}
        {whole && (
          <div class="edit-docs">
            {docs.map((d) => (
              <label key={d.id} class="check edit-doc" data-id={d.id}>
                <input
                  type="checkbox"
                  checked={keep.has(d.id)}
                  onChange={(e) => {
                    const next = new Set(keep);
                    if ((e.target as HTMLInputElement).checked) next.add(d.id);
                    else next.delete(d.id);
                    setKeep(next);
                  }}
                />
                📎 {d.file_name}
              </label>
            ))}
            <PendingChips />
            <button class="link edit-attach" onClick={() => void pick()}>
              📎 {t(l, "message.editAttach")}
            </button>
          </div>
        )}
        <div class="actions">
          <button
            class="primary"
            disabled={!text.trim() || isStreaming() || readingAny()}
            onClick={() => {
              setEditing(false);
              editingQuestion.value = null;
              // A preset's document fields name the documents the edit keeps or adds.
              const fileFields = (preset?.fields ?? []).filter((f) => f.kind === "file").map((f) => f.name);
              const kept = docs.filter((d) => keep.has(d.id)).map((d) => d.file_name);
              const fields = { ...(m.form?.fields ?? {}), ...form };
              for (const f of fileFields) if (fields[f] && !kept.includes(fields[f])) delete fields[f];
              const rest = whole
                ? {
                    form: m.form ? withAttachedFiles(fields, fileFields.filter((f) => !fields[f])) : {},
                    // Documents not read yet: all kept (nothing is dropped unseen).
                    keep: read === null ? null : [...keep],
                    files: readyPaths().filter((p) => !before.includes(p)),
                  }
                : undefined;
              // Refused before it was stored (the prompt over the context, the model gone): the
              // edit opens again with what was typed, never lost.
              void send({ kind: "edit", question_id: m.id, question: text.trim() }, rest).then((stored) => {
                if (!stored && editingQuestion.value === null) {
                  editingQuestion.value = m.id;
                  setEditing(true);
                }
              });
            }}
          >
            {t(l, "message.resend")}
          </button>
          <button
            onClick={() => {
              setEditing(false);
              editingQuestion.value = null;
            }}
          >
            {t(l, "message.cancel")}
          </button>
        </div>
      </div>
    );
  }
  return (
    <div class="msg question" data-id={m.id}>
      <div class="question-text">{typed}</div>
      {docs.length > 0 && (
        <div class="attachments">
          {docs.map((d) => (
            <button
              class="chip attachment"
              key={d.id}
              data-id={d.id}
              title={`${d.included_summary}\nSHA-256 ${d.sha256}${d.notes.length ? "\n" + d.notes.join("\n") : ""}`}
              onClick={() => void showStored(d)}
            >
              📎 {d.file_name} · {d.kind.toUpperCase()}
              {d.pages === 1 ? ` · ${t(lang.value, "attach.page")}` : d.pages ? ` · ${t(lang.value, "attach.pages", { n: String(d.pages) })}` : ""} · {size(d.size)}
              {/* Never a silent cut: a document that did not fit says so on its chip. */}
              {!d.included_summary.startsWith("all of") && <span class="chip-partial"> · {t(lang.value, "attach.partial")}</span>}
              {/* What the reader said (a hidden sheet, scanned pages, formulas shown): on the chip, not only in its tooltip. */}
              {d.notes.length > 0 && <span class="chip-warn"> · ⚠ {t(lang.value, "attach.notes", { n: d.notes.length })}</span>}
            </button>
          ))}
        </div>
      )}
      {fields.length > 0 && (
        <dl class="form-values">
          {fields.map(([k, v]) => (
            <Fragment key={k}>
              <dt>{k}</dt>
              <dd>{v}</dd>
            </Fragment>
          ))}
        </dl>
      )}
      <div class="actions">
        <BranchNav m={m} view={view} />
        <button
          class="link"
          disabled={isStreaming()}
          onClick={begin}
        >
          {t(l, "message.edit")}
        </button>
      </div>
    </div>
  );
}

function Answer({ m, view }: { m: Message; view: ConversationView }) {
  // Only the answer being written reads the live stream; the others never re-render per token.
  if (m.status === "streaming") return <LiveAnswerItem m={m} view={view} />;
  return <StoredAnswer m={m} view={view} />;
}

/** Each finished answer's calculation check, by the text it was made of (the newest few kept). */
const checkedAnswers = new Recent<string, CalcCheck>(64);

/** The calculation check of a finished answer; null until it is back (or if it failed). */
function useCalcCheck(m: Message): CalcCheck | null {
  const key = `${m.id}:${m.reasoning.length}:${m.answer.length}`;
  const [check, setCheck] = useState<CalcCheck | null>(() => checkedAnswers.get(key) ?? null);
  useEffect(() => {
    const known = checkedAnswers.get(key);
    if (known) return setCheck(known);
    let alive = true;
    api
      .checkCalculations(m.reasoning, m.answer)
      .then((c) => {
        checkedAnswers.set(key, c);
        if (alive) setCheck(c);
      })
      // The check is a help, never in the way of reading the answer.
      .catch(() => undefined);
    return () => {
      alive = false;
    };
  }, [key]);
  return check;
}

function StoredAnswer({ m, view }: { m: Message; view: ConversationView }) {
  const l = lang.value;
  const secs = storedReasoningSeconds(m.reasoning_tokens, m.decode_tok_s);
  const label = secs !== null ? t(l, "reasoning.thought", { s: secs }) : t(l, "reasoning.title");
  const calc = useCalcCheck(m);
  const marked = calc !== null && calc.summary.differ > 0;
  return (
    <div class={`msg answer status-${m.status}`} data-id={m.id} data-status={m.status}>
      {m.reasoning.trim() && <Reasoning text={m.reasoning} label={label} thinking={false} html={marked ? calc.reasoning_html : null} />}
      <ToolCards cards={(view.tool_calls ?? []).filter((c) => c.message_id === m.id)} />
      {m.answer.trim() ? <Markdown text={m.answer} streaming={false} id={m.id} marked={marked ? calc.answer_html : null} sources={sourcesOf(view, m.id)} /> : null}
      <Sources id={m.id} sources={sourcesOf(view, m.id)} />
      {calc !== null && calc.summary.checked > 0 && <CalcLine calc={calc} />}
      <StatusLine m={m} />
      <div class="actions">
        <BranchNav m={m} view={view} />
        <CopyButton text={m.answer} />
        {m.parent_id !== null && (
          <button class="link regenerate" disabled={isStreaming()} onClick={() => void send({ kind: "regenerate", question_id: m.parent_id! })}>
            {t(l, "message.regenerate")}
          </button>
        )}
      </div>
    </div>
  );
}

function LiveAnswerItem({ m, view }: { m: Message; view: ConversationView }) {
  const l = lang.value;
  const lv = live.value;
  const mine = lv !== null && lv.answerId === m.id;
  const reasoning = mine ? lv.reasoning : m.reasoning;
  const answer = mine ? lv.answer : m.answer;
  const phase = mine ? reasoningPhase(lv) : "none";
  const label = mine ? reasoningLabel(l, lv.reasoningStartedAt, lv.answerStartedAt, lv.endedAt, now.value) : t(l, "reasoning.title");
  return (
    <div class="msg answer status-streaming" data-id={m.id} data-status="streaming">
      {reasoning && <Reasoning text={reasoning} label={label} thinking={phase === "thinking"} />}
      {!reasoning && !answer && <div class="typing">{mine && lv.prefill ? prefillLine(l, lv.prefill) : "…"}</div>}
      {mine && lv.notices.map((r, i) => (
        <div key={`n${i}`} class="tool-note turn-notice">
          {t(l, "tool.notice", { r })}
        </div>
      ))}
      {mine && <ToolCards cards={lv.tools} />}
      {mine && lv.approvals.map((a) => <ApprovalCard key={a.id} request={a} />)}
      {answer && <Markdown text={answer} streaming={true} id={m.id} sources={mine ? lv.sources : NO_SOURCES} />}
      {mine && <Sources id={m.id} sources={lv.sources} />}
      {mine && lv.toolNotes.map((r, i) => (
        <div key={i} class="tool-note">
          {t(l, "tool.malformed", { r })}
        </div>
      ))}
      <div class="actions">
        <BranchNav m={m} view={view} />
        {!mine && (
          <button class="link" id="stop-background" onClick={() => void api.stop(m.id)}>
            {t(l, "composer.stop")}
          </button>
        )}
      </div>
    </div>
  );
}

function prefillLine(l: Lang, p: PrefillProgress): string {
  const left = prefillSecondsLeft(p);
  return (
    t(l, "prefill.reading", { done: p.done, total: p.total }) +
    (p.startDone > 0 ? t(l, "prefill.cached", { n: p.startDone }) : "") +
    (left !== null && p.done < p.total ? t(l, "prefill.left", { s: left }) : "")
  );
}

/** JSON as a reader reads it: indented where it parses, as written where it does not. */
function pretty(v: unknown): string {
  if (typeof v === "string") {
    try {
      return JSON.stringify(JSON.parse(v), null, 2);
    } catch {
      return v;
    }
  }
  return JSON.stringify(v, null, 2);
}

/** The tools an answer called, each a folded card: name, status and time; opened, the
 * arguments and the result. */
function ToolCards({ cards }: { cards: { call: ToolCall; result: ToolResult | null }[] }) {
  const l = lang.value;
  if (cards.length === 0) return null;
  return (
    <div class="tool-cards">
      {cards.map(({ call, result }, i) => (
        <details key={`${call.id}-${i}`} class={`tool-card status-${result?.status ?? "running"}`} data-tool={call.name}>
          <summary>
            <span class="tool-icon">{call.name === "calculate" || call.name === "finance" ? "🧮" : "🔧"}</span> <span class="tool-name">{call.name}</span>
            {" · "}
            <span class="tool-status">{t(l, result === null ? "tool.running" : (`tool.${result.status}` as const))}</span>
            {result !== null && result.ms > 0 && <span class="tool-ms">{` · ${result.ms} ms`}</span>}
            {result?.source && <span class="tool-source">{` · ${result.source}`}</span>}
          </summary>
          <div class="tool-body">
            <div class="tool-label">{t(l, "tool.arguments")}</div>
            <pre>{pretty(call.arguments)}</pre>
            {result !== null && (
              <>
                <div class="tool-label">{t(l, "tool.result")}</div>
                <pre class="tool-result">{pretty(result.content)}</pre>
              </>
            )}
          </div>
        </details>
      ))}
    </div>
  );
}

/** An MCP call waiting for the analyst: what it would run, with allow once / always / deny.
 *  The card goes when the call's result comes (run, refused, or timed out). */
function ApprovalCard({ request }: { request: ApprovalRequest }) {
  const l = lang.value;
  const [sent, setSent] = useState(false);
  const answer = (approval: Approval) => {
    setSent(true);
    void api.answerApproval(request.id, approval);
  };
  return (
    <div class="approval-card" role="alertdialog" aria-label={t(l, "tool.approve.title", { server: request.server, tool: request.tool })} data-request={request.id}>
      <div class="approval-title">
        🔧 {t(l, "tool.approve.title", { server: request.server, tool: request.tool })}
      </div>
      {request.description && <div class="approval-description">{request.description}</div>}
      <div class="tool-label">{t(l, "tool.arguments")}</div>
      <pre>{pretty(request.call.arguments)}</pre>
      <div class="approval-actions">
        <button class="primary approve-once" disabled={sent} onClick={() => answer("once")}>
          {t(l, "tool.approve.once")}
        </button>
        <button class="approve-always" disabled={sent} onClick={() => answer("always")}>
          {t(l, "tool.approve.always")}
        </button>
        <button class="approve-deny" disabled={sent} onClick={() => answer("deny")}>
          {t(l, "tool.approve.deny")}
        </button>
      </div>
      <div class="inline-help">{t(l, "tool.approve.timeout", { s: request.timeout_secs })}</div>
    </div>
  );
}

/** "6 calculations checked · 5 agree · 1 differs", and what differs, recomputed. */
function CalcLine({ calc }: { calc: CalcCheck }) {
  const l = lang.value;
  const s = calc.summary;
  const [open, setOpen] = useState(false);
  const text = [
    t(l, s.checked === 1 ? "calc.checked1" : "calc.checked", { n: s.checked }),
    t(l, "calc.agree", { n: s.agree }),
    t(l, s.differ === 1 ? "calc.differs1" : "calc.differs", { n: s.differ }),
  ].join(" · ");
  return (
    <div class={`calc-line${s.differ > 0 ? " differs" : ""}`} data-checked={s.checked} data-differ={s.differ}>
      {s.differ > 0 ? (
        <button class="link calc-toggle" aria-expanded={open} onClick={() => setOpen(!open)} title={t(l, "calc.explain")}>
          {"⚠ " + text}
        </button>
      ) : (
        <span title={t(l, "calc.explain")}>{"✓ " + text}</span>
      )}
      {open && (
        <ul class="calc-list">
          {calc.differing.map((d, i) => (
            <li key={i}>
              <span class="calc-part">{t(l, d.part === "reasoning" ? "calc.inReasoning" : "calc.inAnswer")}</span> <code>{d.statement}</code>{" "}
              <span class="calc-recomputed">{t(l, "calc.recomputed", { v: d.recomputed })}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Reasoning({ text, label, thinking, html = null }: { text: string; label: string; thinking: boolean; html?: string | null }) {
  const l = lang.value;
  // Open while the model thinks, folded once the answer starts; a click overrides either.
  const [userOpen, setUserOpen] = useState<boolean | null>(null);
  const open = userOpen ?? thinking;
  return (
    <div class={`reasoning${open ? " open" : ""}${thinking ? " thinking" : ""}`}>
      <button class="reasoning-toggle" aria-expanded={open} title={t(l, open ? "reasoning.hide" : "reasoning.show")} onClick={() => setUserOpen(!open)}>
        <span class="chevron">{open ? "▾" : "▸"}</span> <span class="reasoning-label">{label}</span>
      </button>
      {/* Marked by the core's check: escaped text with its own <mark>s, nothing else. */}
      {open && (html !== null ? <div class="reasoning-text" dangerouslySetInnerHTML={{ __html: html }} /> : <div class="reasoning-text">{text}</div>)}
    </div>
  );
}

const NO_SOURCES: AnswerSource[] = [];

function Markdown({ text, streaming, id, marked = null, sources = NO_SOURCES }: { text: string; streaming: boolean; id: number; marked?: string | null; sources?: AnswerSource[] }) {
  // A message that stops streaming is drawn by a new component: it starts from what the live
  // one showed, not empty (the answer vanished until the render came back, and a reader
  // scrolled up lost their place as the view collapsed and grew again).
  const [html, setHtml] = useState(() => renderedAnswers.get(id) ?? "");
  const ref = useRef<HTMLDivElement>(null);
  const renderer = useRef<Throttled<string> | null>(null);
  if (renderer.current === null)
    renderer.current = new Throttled(
      (md) => api.render(md),
      (h) => {
        renderedAnswers.set(id, h);
        setHtml(h);
      },
      100,
    );
  useEffect(() => renderer.current?.push(text, !streaming), [text, streaming]);
  useEffect(() => () => renderer.current?.cancel(), []);
  const shown = marked ?? html;
  useEffect(() => addCopyButtons(ref.current, lang.value), [shown]);
  useEffect(() => linkCitations(ref.current, id, sources, lang.value), [shown, sources.length]);
  // The core's renderer sanitised this HTML: the only HTML the UI puts into the page.
  return <div class="answer-body markdown" ref={ref} dangerouslySetInnerHTML={{ __html: shown }} />;
}

/** The sources of one answer in a stored conversation. */
function sourcesOf(view: ConversationView, id: number): AnswerSource[] {
  return (view.sources ?? []).filter((s) => s.message_id === id);
}

/** `[n]` in an answer given library passages: a link that opens passage n under the answer and
 *  its page (`PageView`), or marked as citing a passage it was not given. Text nodes only
 *  (never code), after sanitising. */
function linkCitations(root: HTMLElement | null, id: number, sources: AnswerSource[], l: Lang) {
  const count = sources.length;
  if (!root || count === 0) return;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
    acceptNode: (n) => (n.parentElement?.closest("code, pre, .cite") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
  });
  const nodes: Text[] = [];
  while (walker.nextNode()) nodes.push(walker.currentNode as Text);
  const pattern = /(\[|【)(\d{1,3}(?:\s*[-–—~]\s*\d{1,3})?(?:\s*[,，;、]\s*\d{1,3}(?:\s*[-–—~]\s*\d{1,3})?)*)(\]|】)/g;
  const link = (num: string) => {
    const n = Number(num);
    const a = document.createElement("a");
    a.textContent = num;
    a.dataset.n = num;
    if (n >= 1 && n <= count) {
      a.className = "cite";
      a.href = `#source-${id}-${n}`;
      a.addEventListener("click", (e) => {
        e.preventDefault();
        const target = document.getElementById(`source-${id}-${n}`) as HTMLDetailsElement | null;
        if (target) {
          target.open = true;
          target.scrollIntoView({ block: "nearest" });
          target.classList.add("flash");
          setTimeout(() => target.classList.remove("flash"), 1500);
        }
        const source = sources.find((s) => s.n === n);
        if (source) openSource(source);
      });
    } else {
      a.className = "cite cite-unknown";
      a.title = t(l, "sources.unknown");
    }
    return a;
  };
  for (const node of nodes) {
    const text = node.data;
    pattern.lastIndex = 0;
    if (!pattern.test(text)) continue;
    pattern.lastIndex = 0;
    const frag = document.createDocumentFragment();
    let at = 0;
    for (const m of text.matchAll(pattern)) {
      // A bracket closed by the other kind is not a citation.
      if ((m[1] === "[") !== (m[3] === "]")) continue;
      frag.append(text.slice(at, m.index));
      frag.append(m[1]);
      // Numbers become links; separators and range dashes stay as written.
      for (const piece of m[2].split(/(\s*[-–—~,，;、]\s*)/)) {
        if (/^\d+$/.test(piece)) frag.append(link(piece));
        else frag.append(piece);
      }
      frag.append(m[3]);
      at = (m.index ?? 0) + m[0].length;
    }
    frag.append(text.slice(at));
    node.replaceWith(frag);
  }
}

/** The library passages an answer was given: each folded, with its file, page and text. */
function Sources({ id, sources }: { id: number; sources: AnswerSource[] }) {
  const l = lang.value;
  if (sources.length === 0) return null;
  return (
    <div class="sources" data-answer={id}>
      <div class="sources-title">{t(l, "sources.title", { n: sources.length })}</div>
      {sources.map((s) => (
        <details key={s.n} id={`source-${id}-${s.n}`} class="source" data-n={s.n}>
          <summary>
            <span class="source-n">[{s.n}]</span> {s.label}
          </summary>
          <div class="source-meta">
            {s.path} · SHA-256 {s.sha256.slice(0, 12)}…
          </div>
          <pre class="source-text">{s.text}</pre>
        </details>
      ))}
    </div>
  );
}

/** The last HTML each answer rendered to, for Markdown's first paint (the newest few kept). */
const renderedAnswers = new Recent<number, string>(64);

function addCopyButtons(root: HTMLElement | null, l: "zh" | "en") {
  root?.querySelectorAll(".code-block").forEach((block) => {
    if (block.querySelector(".copy-code")) return;
    const button = document.createElement("button");
    button.className = "copy-code";
    button.textContent = t(l, "message.copy");
    button.addEventListener("click", () => {
      void copy(block.querySelector("code")?.textContent ?? "").then(() => (button.textContent = t(l, "message.copied")));
    });
    block.querySelector(".code-lang")?.appendChild(button) ?? block.prepend(button);
  });
}

async function copy(text: string) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
}

function CopyButton({ text }: { text: string }) {
  const l = lang.value;
  const [done, setDone] = useState(false);
  if (!text.trim()) return null;
  return (
    <button class="link" onClick={() => void copy(text).then(() => setDone(true))}>
      {t(l, done ? "message.copied" : "message.copy")}
    </button>
  );
}

function StatusLine({ m }: { m: Message }) {
  const l = lang.value;
  const parts: string[] = [];
  if (m.reasoning_tokens !== null && m.answer_tokens !== null) {
    // An answer without reasoning does not mention it.
    parts.push(m.reasoning_tokens > 0 ? t(l, "stats.tokens", { r: m.reasoning_tokens, a: m.answer_tokens }) : t(l, "stats.answerTokens", { a: m.answer_tokens }));
  }
  if (m.ttft_ms !== null) parts.push(t(l, "stats.ttft", { s: (m.ttft_ms / 1000).toFixed(2) }));
  if (m.decode_tok_s !== null) parts.push(t(l, "stats.speed", { v: m.decode_tok_s.toFixed(1) }));
  if (m.engine?.model_file) parts.push(m.engine.model_file);
  return (
    <div class="stats">
      {m.status === "cancelled" && <span class="badge">{t(l, "status.cancelled")}</span>}
      {m.status === "interrupted" && <span class="badge warn">{t(l, "status.interrupted")}</span>}
      {m.status === "error" && (
        <span class="badge error">
          {errorText({ kind: m.error_kind ?? "other", message: m.error_message ?? "" }, l)}
        </span>
      )}
      {m.stop_reason === "length" && <span class="badge">{t(l, "status.length")}</span>}
      {m.stop_reason === "repetition" && <span class="badge">{t(l, "status.repetition")}</span>}
      {m.stop_reason !== "cancelled" && m.status === "complete" && m.reasoning.trim() && !m.answer.trim() && (
        <span class="badge warn">{t(l, "reasoning.unterminated")}</span>
      )}
      <span class="figures">{parts.join(" · ")}</span>
    </div>
  );
}
