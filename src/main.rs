use std::ffi::OsString;
#[cfg(feature = "gui")]
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    polarmap_core::models::set_shipped_dir(polarmap::assets::models_dir);
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    #[cfg(feature = "gui")]
    if let Some(path) = gui_request(&args) {
        let fallback_to_cli = args.is_empty();
        match polarmap::gui::run(path) {
            Ok(()) => return ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                if !fallback_to_cli {
                    return ExitCode::FAILURE;
                }
                // No display (a terminal over ssh, CI): show the command line's demo instead.
                eprintln!(
                    "showing the command-line demo instead (polarmap --help lists the commands)\n"
                );
            }
        }
    }
    #[cfg(not(feature = "gui"))]
    let _ = &args;
    polarmap::cli::main()
}

/// `polarmap`, `polarmap gui [PATH]` and `polarmap PATH` open the desktop app; the inner option
/// is the scan to open (None: the demo).
#[cfg(feature = "gui")]
fn gui_request(args: &[OsString]) -> Option<Option<PathBuf>> {
    match args {
        [] => Some(None),
        [first, rest @ ..] if first == "gui" => match rest {
            [] => Some(None),
            [path] => Some(Some(PathBuf::from(path))),
            _ => None,
        },
        [single] => {
            let text = single.to_string_lossy();
            // A subcommand is never a path, even where a file or folder of that name exists.
            let is_command = polarmap::cli::is_command(&text) || text.starts_with('-');
            (!is_command && std::path::Path::new(single).exists())
                .then(|| Some(PathBuf::from(single)))
        }
        _ => None,
    }
}
