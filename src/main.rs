//! upgrade-pilot: take a self-hosted Odoo database through a major-version
//! upgrade safely. Entry point: error reporting and dispatch.

fn main() {
    // color-eyre first, so that panics are reported readably.
    let _ = color_eyre::install();
    let code = match upgrade_pilot::cli::run() {
        Ok(code) => code,
        Err(e) => {
            // One line: what is wrong and what to do.
            eprintln!("upgrade-pilot: {}", upgrade_pilot::cli::one_line_error(&e));
            1
        }
    };
    std::process::exit(code);
}
