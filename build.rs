//! Compiles the Slint UI (ui/main.slint) with its bundled translations into the crate (with the `gui`
//! feature, the default).

fn main() {
    #[cfg(feature = "gui")]
    compile_menu();
}

#[cfg(feature = "gui")]
fn compile_menu() {
    let config = slint_build::CompilerConfiguration::new()
        // Element ids and accessible labels must resolve in the headless GUI tests.
        .with_debug_info(true)
        .with_style("fluent-dark".into())
        .with_bundled_translations("ui/translations");
    if let Err(error) = slint_build::compile_with_config("ui/main.slint", config) {
        eprintln!("cannot compile ui/main.slint: {error}");
        std::process::exit(1);
    }
}
