fn main() {
    // sqlx::migrate! embeds the migrations: a new or changed one rebuilds the crate.
    println!("cargo:rerun-if-changed=migrations");
}
