use std::io::Read;

use clap::Args;

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// Write a whole HTML page (with the code and math styles) instead of a fragment.
    #[arg(long)]
    standalone: bool,
}

pub fn run(a: RenderArgs) -> anyhow::Result<i32> {
    let mut md = String::new();
    std::io::stdin().read_to_string(&mut md)?;
    let html = fin_r1_report::render::render(&md);
    if a.standalone {
        println!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"><style>{}</style></head><body>\n{html}\n</body></html>",
            fin_r1_report::render::highlight_css()
        );
    } else {
        println!("{html}");
    }
    Ok(0)
}
