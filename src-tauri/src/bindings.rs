//! The app's commands and the TypeScript the UI calls them through. `ui/src/bindings.ts` is
//! generated from these Rust signatures and types (tauri-specta): a test fails when the
//! checked-in file differs, and `scripts/gen-bindings.sh` rewrites it.

use tauri::Runtime;
use tauri_specta::{collect_commands, Builder, ErrorHandlingMode};

/// Every command the page may call (build.rs lists the same names for the permission manifest).
pub fn builder<R: Runtime>() -> Builder<R> {
    Builder::<R>::new()
        .commands(collect_commands![
            crate::commands::chat::app_info,
            crate::commands::chat::load_model,
            crate::commands::chat::list_models,
            crate::commands::chat::list_conversations,
            crate::commands::chat::open_conversation,
            crate::commands::chat::show_branch,
            crate::commands::chat::search_conversations,
            crate::commands::chat::rename_conversation,
            crate::commands::chat::conversation_attachments,
            crate::commands::documents::read_document,
            crate::commands::documents::discard_document,
            crate::commands::documents::save_pasted_document,
            crate::commands::documents::attachment_text,
            crate::commands::chat::pin_conversation,
            crate::commands::chat::set_conversation_sampling,
            crate::commands::chat::delete_conversation,
            crate::commands::chat::restore_conversation,
            crate::commands::chat::list_scenarios,
            crate::commands::chat::send_message,
            crate::commands::chat::stop_generation,
            crate::commands::chat::answer_tool_approval,
            crate::commands::chat::render_markdown,
            crate::commands::chat::check_calculations,
            crate::commands::chat::renderer_css,
            crate::commands::chat::get_setting,
            crate::commands::chat::set_setting,
            crate::commands::settings::get_settings,
            crate::commands::settings::save_settings,
            crate::commands::library::library_folders,
            crate::commands::library::add_library_folder,
            crate::commands::library::reindex_library_folder,
            crate::commands::library::stop_library_scan,
            crate::commands::library::remove_library_folder,
            crate::commands::library::library_files,
            crate::commands::library::check_source,
            crate::commands::documents::document_original,
            crate::commands::models::search_hub,
            crate::commands::models::hub_files,
            crate::commands::settings::store_size,
            crate::commands::settings::drop_document_text,
            crate::commands::settings::compact_store,
            crate::commands::library::library_collections,
            crate::commands::library::add_to_library_collection,
            crate::commands::library::remove_from_library_collection,
            crate::commands::library::delete_library_collection,
            crate::commands::settings::get_mcp_config,
            crate::commands::settings::save_mcp_config,
            crate::commands::settings::mcp_servers,
            crate::commands::settings::server_status,
            crate::commands::settings::choose_data_dir,
            crate::commands::settings::list_backups,
            crate::commands::settings::create_backup,
            crate::commands::settings::restore_backup_on_restart,
            crate::commands::models::model_catalog,
            crate::commands::models::download_model,
            crate::commands::models::cancel_model_job,
            crate::commands::models::quantize_model,
            crate::commands::models::import_model,
            crate::commands::models::remove_model,
            crate::commands::models::set_hub_token,
            crate::commands::eval::eval_start,
            crate::commands::eval::eval_stop,
            crate::commands::eval::eval_runs,
            crate::commands::eval::eval_run,
            crate::commands::eval::eval_add,
            crate::commands::eval::eval_keys,
            crate::commands::eval::eval_export,
            crate::commands::export::export_conversation,
            crate::commands::export::open_report,
            crate::commands::system::open_external,
            crate::commands::system::open_log_folder,
            crate::commands::system::diagnostics,
            crate::commands::system::about,
        ])
        // Commands reject with a `CommandError` (kind + message), as `invoke` does.
        .error_handling(ErrorHandlingMode::Throw)
        // Safe here: ids and sizes stay far below 2^53, and seeds are kept within it
        // (`fin_r1_engine::sampler::MAX_SEED`).
        .dangerously_cast_bigints_to_number()
}

/// The typed commands and the one that answers raw bytes (a cited PDF), which specta cannot
/// type.
pub fn invoke_handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    // The typed handler borrows its builder (tauri-specta's signature), so the builder lives as
    // long as the app: one per app, built once.
    let typed = Box::leak(Box::new(builder::<R>())).invoke_handler();
    // The bound gives the macro's closure its argument's type.
    fn typed_as<R: Runtime, F: Fn(tauri::ipc::Invoke<R>) -> bool>(f: F) -> F {
        f
    }
    let raw = typed_as::<R, _>(tauri::generate_handler![crate::commands::library::source_pdf, crate::commands::documents::document_pdf]);
    move |invoke| if matches!(invoke.message.command(), "source_pdf" | "document_pdf") { raw(invoke) } else { typed(invoke) }
}

/// The TypeScript for `builder`'s commands and their types, as `ui/src/bindings.ts` holds it.
pub fn typescript() -> Result<String, String> {
    let dir = std::env::temp_dir().join(format!("fin-r1-bindings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("bindings.ts");
    let result = builder::<tauri::Wry>()
        .export(
            specta_typescript::Typescript::default().header("// Generated by scripts/gen-bindings.sh from the Rust types: do not edit.\n// @ts-nocheck"),
            &path,
        )
        .map_err(|e| e.to_string())
        .and_then(|()| std::fs::read_to_string(&path).map_err(|e| e.to_string()));
    let _ = std::fs::remove_dir_all(&dir);
    result
}
