import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api";
import { t, type Key } from "../i18n";
import {
  conversations,
  current,
  deleteConversation,
  lang,
  newChat,
  openConversation,
  page,
  refreshConversations,
  openHit,
  runSearch,
  searchHits,
  searchQuery,
  setLang,
} from "../state";
import type { ConversationSummary } from "../types";
import { highlight, onePerConversation } from "../searchView";
import { shortTitle } from "./format";

export function Sidebar() {
  const l = lang.value;
  const hits = searchHits.value;
  const list = conversations.value;
  const pinned = list.filter((c) => c.pinned);
  const recent = list.filter((c) => !c.pinned);
  return (
    <aside class="sidebar">
      <div class="brand">
        <img src="/icon.png" alt="" width={28} height={28} />
        <span>Fin-R1</span>
      </div>
      <button class="primary new-chat" id="new-chat" onClick={() => newChat()}>
        + {t(l, "sidebar.new")}
      </button>
      <input
        id="search"
        class="search"
        type="search"
        placeholder={t(l, "sidebar.search")}
        value={searchQuery.value}
        onInput={(e) => void runSearch((e.target as HTMLInputElement).value)}
        onKeyDown={(e) => {
          if (e.key === "Escape") void runSearch("");
        }}
      />
      <nav class="conversations" aria-label="conversations">
        {hits !== null ? (
          hits.length === 0 ? (
            <p class="muted">{t(l, "sidebar.noHits")}</p>
          ) : (
            onePerConversation(hits).map((h) => (
              <button class="hit" key={h.conversation_id} data-id={h.conversation_id} onClick={() => void openHit(h.conversation_id, h.message_id)}>
                <span class="hit-title">{shortTitle(h.title, 60)}</span>
                <span class="hit-field">{t(l, `search.${h.field}` as Key)}</span>
                <span class="hit-snippet">
                  {highlight(h.snippet, searchQuery.value).map((seg, i) => (seg.match ? <mark key={i}>{seg.text}</mark> : seg.text))}
                </span>
              </button>
            ))
          )
        ) : list.length === 0 ? (
          <p class="muted">{t(l, "sidebar.empty")}</p>
        ) : (
          <>
            {pinned.length > 0 && <h3>{t(l, "sidebar.pinned")}</h3>}
            {pinned.map((c) => (
              <Item key={c.id} c={c} />
            ))}
            {pinned.length > 0 && recent.length > 0 && <h3>{t(l, "sidebar.recent")}</h3>}
            {recent.map((c) => (
              <Item key={c.id} c={c} />
            ))}
          </>
        )}
      </nav>
      <div class="sidebar-foot">
        {(["evaluate", "models", "settings", "about"] as const).map((p) => (
          <button key={p} class={`nav${page.value === p ? " active" : ""}`} id={`nav-${p}`} onClick={() => (page.value = p)}>
            {t(l, `nav.${p}` as Key)}
          </button>
        ))}
        <button class="link" id="lang" onClick={() => void setLang(l === "zh" ? "en" : "zh")}>
          {l === "zh" ? "English" : "中文"}
        </button>
      </div>
    </aside>
  );
}

function Item({ c }: { c: ConversationSummary }) {
  const l = lang.value;
  const [renaming, setRenaming] = useState(false);
  const [menu, setMenu] = useState(false);
  const active = current.value?.conversation.id === c.id;
  const box = useRef<HTMLInputElement>(null);
  // `autoFocus` is honoured only when a page loads: the box that replaces the title is focused
  // (its text selected) here.
  useEffect(() => {
    if (renaming) {
      box.current?.focus();
      box.current?.select();
    }
  }, [renaming]);
  if (renaming) {
    return (
      <input
        class="rename"
        ref={box}
        defaultValue={c.title}
        onKeyDown={async (e) => {
          const input = e.target as HTMLInputElement;
          const title = input.value.trim();
          if (e.key === "Enter" && title) {
            await api.rename(c.id, title);
            setRenaming(false);
            // The open conversation's header shows the new title at once.
            const open = current.value;
            if (open?.conversation.id === c.id) current.value = { ...open, conversation: { ...open.conversation, title } };
            await refreshConversations();
          } else if (e.key === "Escape") setRenaming(false);
        }}
        onBlur={() => setRenaming(false)}
      />
    );
  }
  return (
    <div class={`item${active ? " active" : ""}`} data-id={c.id}>
      <button class="item-title" title={c.title} onClick={() => void openConversation(c.id)}>
        {c.pinned ? "📌 " : ""}
        {shortTitle(c.title)}
      </button>
      <button class="item-menu" aria-label="menu" onClick={() => setMenu(!menu)}>
        ⋯
      </button>
      {menu && (
        <div class="menu" onMouseLeave={() => setMenu(false)}>
          <button
            onClick={() => {
              setMenu(false);
              setRenaming(true);
            }}
          >
            {t(l, "sidebar.rename")}
          </button>
          <button
            onClick={async () => {
              setMenu(false);
              await api.pin(c.id, !c.pinned);
              await refreshConversations();
            }}
          >
            {t(l, c.pinned ? "sidebar.unpin" : "sidebar.pin")}
          </button>
          <button
            class="danger"
            onClick={() => {
              setMenu(false);
              void deleteConversation(c.id, c.title, t(l, "sidebar.deleted"));
            }}
          >
            {t(l, "sidebar.delete")}
          </button>
        </div>
      )}
    </div>
  );
}
